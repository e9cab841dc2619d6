"""What a command line can spell of the generator: one OptionSpec per parameter and setting.

The specs are read from :class:`~parallel_audio.ParallelAudioDataGenerator`'s constructor
signature and type hints, and the help texts from its numpydoc docstring, so a parameter
added to the constructor gets an option without a change here. Every frontend setting of
:class:`~parallel_audio.AudioFeatureGeneratorSettings` that can be set gets a spec as well.
Callbacks and ``augmentations`` (Python objects) have none.

This module knows neither argparse nor config files: :mod:`parallel_audio.cli.options` turns
the specs into options and :mod:`parallel_audio.cli.config_file` into file keys.
"""

from __future__ import annotations

import collections.abc
import inspect
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from parallel_audio.frontend_settings import KEY_PREFIX, AudioFeatureGeneratorSettings

#: Parameters that take Python objects, which no command line or config file can express.
EXCLUDED_PARAMETERS = frozenset({"augmentations"})
#: The word that sets an optional value to None on the command line.
NONE_WORD = "none"


@dataclass(frozen=True)
class OptionSpec:
    """How one constructor parameter or frontend setting is written on the command line.

    Attributes
    ----------
    name : str
        The parameter's name (``speed_range``), or the setting's name for frontend options.
    kind : str
        ``"bool"``, ``"int"``, ``"float"``, ``"number"`` (int or float), ``"str"``,
        ``"range"`` (two numbers), ``"strings"`` (one or several words) or ``"ints"``.
    optional : bool
        Whether the value may be None (spelled ``none``).
    default : Any
        The constructor's default.
    help : str
        The first sentence of the parameter's documentation.
    frontend : bool
        Whether this is a frontend setting (``--fe.<name>``).
    """

    name: str
    kind: str
    optional: bool
    default: Any
    help: str = ""
    frontend: bool = False

    @property
    def flag(self) -> str:
        """The option as typed: ``--speed-range`` or ``--fe.window-size-ms``."""
        dashed = self.name.replace("_", "-")
        return f"--fe.{dashed}" if self.frontend else f"--{dashed}"


# ----------------------------------------------------------------------------- option specs


def generator_class() -> type:
    """Return ParallelAudioDataGenerator, imported when first asked for.

    Importing this module stays light: the command line imports it to build its parser.
    """
    from parallel_audio.generator import ParallelAudioDataGenerator

    return ParallelAudioDataGenerator


def parameter_descriptions(docstring: str | None) -> dict[str, str]:
    """Map each parameter of a numpydoc ``Parameters`` section to its first sentence.

    Parameters
    ----------
    docstring : str or None
        A numpydoc docstring; entries may document several names at once
        (``low, high : float``) and their names may run over two lines.

    Returns
    -------
    dict of str to str
        Parameter name to the first sentence of its description; empty without a section.
    """
    if not docstring:
        return {}
    lines = inspect.cleandoc(docstring).splitlines()
    try:
        start = next(
            i
            for i in range(len(lines) - 1)
            if lines[i].strip() == "Parameters" and set(lines[i + 1].strip()) == {"-"}
        )
    except StopIteration:
        return {}
    entries: list[tuple[str, list[str]]] = []
    header: list[str] = []
    i = start + 2
    while i < len(lines):
        line = lines[i]
        if i + 1 < len(lines) and line.strip() and set(lines[i + 1].strip()) == {"-"}:
            break  # the next section's title
        if line and not line[0].isspace():
            header.append(line.strip())
            if " : " in line or line.rstrip().endswith(":") or _description_follows(lines, i):
                entries.append((" ".join(header), []))
                header = []
        elif line.strip() and entries:
            entries[-1][1].append(line.strip())
        i += 1
    descriptions = {}
    for header_text, text in entries:
        # Inline code marks are noise on a terminal.
        sentence = " ".join(text).split(". ")[0].rstrip(".").replace("``", "")
        names = [n.strip() for n in header_text.split(" : ")[0].rstrip(":").split(",")]
        names = [n for n in names if n]
        # "a, b : bool / Do this; do that." describes a and b in turn.
        parts = sentence.split("; ")
        if len(names) > 1 and len(parts) == len(names):
            descriptions.update(zip(names, (p[0].upper() + p[1:] for p in parts), strict=True))
        else:
            descriptions.update(dict.fromkeys(names, sentence))
    return descriptions


def _description_follows(lines: list[str], i: int) -> bool:
    return i + 1 < len(lines) and lines[i + 1][:1].isspace()


def _resolve_annotation(annotation: Any, namespace: Mapping[str, Any]) -> Any:
    """Evaluate a string annotation (``from __future__ import annotations``); None if it fails."""
    if not isinstance(annotation, str):
        return annotation
    try:
        return eval(annotation, dict(namespace))  # noqa: S307 - the package's own annotations
    except Exception:
        return None


def _union_members(annotation: Any) -> tuple[list[Any], bool]:
    """Return the members of a union other than None, and whether None is one of them."""
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        members = list(typing.get_args(annotation))
    else:
        members = [annotation]
    has_none = type(None) in members
    return [m for m in members if m is not type(None)], has_none


def _is_callable_type(member: Any) -> bool:
    origin = typing.get_origin(member) or member
    return origin is collections.abc.Callable or origin is typing.Callable


def _classify(annotation: Any, default: Any) -> tuple[str | None, bool]:
    """Return (kind, optional) for an annotation; kind None when no command line can spell it."""
    if annotation is None or annotation is inspect.Parameter.empty:
        return _classify_default(default), default is None
    members, optional = _union_members(annotation)
    optional = optional or default is None
    if any(_is_callable_type(m) for m in members):
        return None, optional
    plain = set(members)
    if plain == {bool}:
        return "bool", optional
    if plain == {int, float}:
        return "number", optional
    if plain == {int}:
        return "int", optional
    if plain == {float}:
        return "float", optional
    if plain == {str}:
        return "str", optional
    if str in plain and any(
        typing.get_origin(m) in (collections.abc.Sequence, list, tuple) for m in members
    ):
        return "strings", optional
    if len(members) == 1:
        member = members[0]
        origin = typing.get_origin(member)
        args = typing.get_args(member)
        if origin is typing.Literal:
            return "str", optional
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            return ("ints" if args[0] is int else None), optional
        if origin is tuple and len(args) == 2 and all(a in (int, float) for a in args):
            return "range", optional
        if origin in (collections.abc.Sequence, list) and args == (str,):
            return "strings", optional
    return None, optional


def _classify_default(default: Any) -> str | None:
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, int):
        return "int"
    if isinstance(default, float):
        return "float"
    if isinstance(default, str):
        return "str"
    if isinstance(default, tuple) and len(default) == 2:
        return "range"
    return None


@lru_cache(maxsize=1)
def generator_option_specs() -> tuple[OptionSpec, ...]:
    """Return one OptionSpec per constructor parameter a command line can spell.

    ``frontend_settings`` is not among them: :func:`frontend_option_specs` lists its
    settings one by one.
    """
    import parallel_audio.generator as generator_module

    cls = generator_class()
    descriptions = parameter_descriptions(cls.__doc__)
    namespace = vars(generator_module)
    specs = []
    for parameter in inspect.signature(cls.__init__).parameters.values():
        if parameter.name == "self" or parameter.name in EXCLUDED_PARAMETERS:
            continue
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        default = None if parameter.default is parameter.empty else parameter.default
        annotation = _resolve_annotation(parameter.annotation, namespace)
        if annotation is AudioFeatureGeneratorSettings or (
            _union_members(annotation)[0] == [AudioFeatureGeneratorSettings]
        ):
            continue
        kind, optional = _classify(annotation, default)
        if kind is None:
            continue
        specs.append(
            OptionSpec(
                parameter.name, kind, optional, default, descriptions.get(parameter.name, "")
            )
        )
    return tuple(specs)


@lru_cache(maxsize=1)
def frontend_option_specs() -> tuple[OptionSpec, ...]:
    """Return one OptionSpec per frontend setting that can be set (derived ones excluded)."""
    descriptions = parameter_descriptions(AudioFeatureGeneratorSettings.__doc__)
    defaults = AudioFeatureGeneratorSettings()
    specs = []
    for key, value in defaults.to_dict().items():
        name = key[len(KEY_PREFIX) :]
        try:
            setattr(defaults.copy(), name, value)
        except AttributeError:
            continue  # derived from the others (fft_length)
        kind = _classify_default(value)
        specs.append(
            OptionSpec(name, kind, False, value, descriptions.get(name, ""), frontend=True)
        )
    return tuple(specs)


def frontend_setting_names() -> tuple[str, ...]:
    """Names of the frontend settings that can be set."""
    return tuple(spec.name for spec in frontend_option_specs())


# ----------------------------------------------------------------------------- values from words


def _parse_word(text: str, kind: str, optional: bool) -> Any:
    if optional and text.lower() == NONE_WORD:
        return None
    if kind == "int":
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"expected an integer, got {text!r}") from None
    if kind in ("float", "number"):
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"expected a number, got {text!r}") from None
        if kind == "number" and number.is_integer() and "." not in text and "e" not in text:
            return int(number)
        return number
    return text


def value_from_words(spec: OptionSpec, words: Sequence[str]) -> Any:
    """Turn the words typed after one option into the value the constructor takes.

    Parameters
    ----------
    spec : OptionSpec
        The option.
    words : sequence of str
        One word, or several for ranges and lists; ``none`` alone is None for an optional
        value.

    Returns
    -------
    object
        A range is a tuple whose ints stay ints (two ints of ``pitch_range`` are semitones,
        floats octaves); one word of a list option stays a string.

    Raises
    ------
    ValueError
        A word is not the number the option takes.
    """
    if spec.optional and len(words) == 1 and words[0].lower() == NONE_WORD:
        return None
    if spec.kind == "range":
        return tuple(_parse_word(w, "number", False) for w in words)
    if spec.kind == "ints":
        return tuple(_parse_word(w, "int", False) for w in words)
    if spec.kind == "strings":
        return words[0] if len(words) == 1 else tuple(words)
    return _parse_word(words[0], spec.kind, spec.optional)
