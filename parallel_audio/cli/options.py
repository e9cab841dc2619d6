"""Generator options on the command line and in config files, derived from the constructor.

Every parameter of :class:`~parallel_audio.ParallelAudioDataGenerator` that has a value a
command line can spell becomes one option (``speed_range`` is ``--speed-range LOW HIGH``),
and every frontend setting becomes ``--fe.<setting>`` (``--fe.window-size-ms 30``). The
options are read from the constructor's signature and the help texts from its docstring, so
a parameter added to the constructor appears here without any change. Callbacks and
``augmentations`` (Python objects) have no command-line form.

A config file (YAML or JSON) holds the same settings under the constructor's names, the
frontend settings either nested under ``frontend_settings`` or flat with ``fe.`` keys as
:meth:`AudioFeatureGeneratorSettings.to_dict` writes them, and optionally the dataset's
``classes``, ``seed`` and ``batch_size``. Options given on the command line override it.
"""

from __future__ import annotations

import argparse
import collections.abc
import inspect
import json
import os
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from parallel_audio.errors import ParallelAudioError, printable_path, short_repr
from parallel_audio.frontend_settings import KEY_PREFIX, AudioFeatureGeneratorSettings

#: Parameters that take Python objects, which no command line or config file can express.
EXCLUDED_PARAMETERS = frozenset({"augmentations"})
#: Keys a config file may hold besides the generator's parameters: the dataset's settings.
DATASET_KEYS = ("classes", "seed", "batch_size")
#: The word that sets an optional value to None on the command line.
NONE_WORD = "none"

_GENERATOR_DEST = "generator:"
_FRONTEND_DEST = "frontend:"


class CommandLineError(ParallelAudioError):
    """A command cannot run as asked; the message says why, and no traceback is shown."""


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

    @property
    def dest(self) -> str:
        """Where argparse stores the value; separate from every command's own options."""
        return (_FRONTEND_DEST if self.frontend else _GENERATOR_DEST) + self.name


@dataclass
class DataSettings:
    """Everything that defines a dataset's samples: the generator's arguments and the classes.

    Attributes
    ----------
    generator_kwargs : dict
        Keyword arguments of ``ParallelAudioDataGenerator``, without ``frontend_settings``.
    frontend : dict
        Frontend settings by name (without the ``fe.`` prefix) that differ from the command's
        base settings.
    classes : list of str or None
        The ``classes`` of ``flow_from_directory``, if given.
    seed : int or None
        The seed, if given.
    batch_size : int or None
        The batch size, if given.
    """

    generator_kwargs: dict[str, Any] = field(default_factory=dict)
    frontend: dict[str, Any] = field(default_factory=dict)
    classes: list[str] | None = None
    seed: int | None = None
    batch_size: int | None = None

    def frontend_settings(
        self, base: AudioFeatureGeneratorSettings | None = None
    ) -> AudioFeatureGeneratorSettings:
        """Return ``base`` (default settings when None) with this object's settings applied."""
        settings = AudioFeatureGeneratorSettings() if base is None else base.copy()
        for name, value in self.frontend.items():
            try:
                setattr(settings, name, value)
            except AttributeError as error:
                raise CommandLineError(str(error)) from None
        return settings

    def to_config(self) -> dict[str, Any]:
        """Return the settings as a config file holds them (plain lists, ``fe.`` keys)."""
        config: dict[str, Any] = {}
        for key in DATASET_KEYS:
            value = getattr(self, key)
            if value is not None:
                config[key] = list(value) if key == "classes" else value
        for name, value in self.generator_kwargs.items():
            if name != "frontend_settings":
                config[name] = _plain(value)
        for name, value in self.frontend.items():
            config[KEY_PREFIX + name] = value
        return config


def _plain(value: Any) -> Any:
    """Tuples as lists and numpy scalars as Python numbers, so that YAML writes plain values."""
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return value.item()
    return value


# ----------------------------------------------------------------------------- option specs


def _generator_class() -> type:
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

    cls = _generator_class()
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


# ----------------------------------------------------------------------------- parsing values


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


class _ValueAction(argparse.Action):
    """Turn the words of one option into the Python value the constructor takes."""

    def __init__(self, *args: Any, spec: OptionSpec, **kwargs: Any) -> None:
        self.spec = spec
        super().__init__(*args, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        spec = self.spec
        words = values if isinstance(values, list) else [values]
        try:
            if spec.optional and len(words) == 1 and words[0].lower() == NONE_WORD:
                value = None
            elif spec.kind == "range":
                # Ints stay ints: for pitch_range, two ints are semitones, floats octaves.
                value = tuple(_parse_word(w, "number", False) for w in words)
            elif spec.kind == "ints":
                value = tuple(_parse_word(w, "int", False) for w in words)
            elif spec.kind == "strings":
                value = words[0] if len(words) == 1 else tuple(words)
            else:
                value = _parse_word(words[0], spec.kind, spec.optional)
        except ValueError as error:
            raise argparse.ArgumentError(self, str(error)) from None
        setattr(namespace, self.dest, value)


def _metavar(spec: OptionSpec) -> str | tuple[str, ...] | None:
    return {
        "int": "N",
        "float": "X",
        "number": "N",
        "str": "TEXT",
        "range": "VALUE",
        "strings": "WORD",
        "ints": "N",
    }.get(spec.kind)


def _help(spec: OptionSpec) -> str:
    text = spec.help or spec.name.replace("_", " ")
    default = spec.default
    if isinstance(default, tuple):
        default = " ".join(str(v) for v in default)
    shown = NONE_WORD if default is None else default
    # argparse expands %-formatting in help texts.
    return f"{text} (default: {shown})".replace("%", "%%")


class HelpFormatter(argparse.HelpFormatter):
    """Show a range option as ``--speed-range LOW HIGH`` rather than argparse's ``VALUE [...]``.

    Range options take one or two words (``none`` alone sets None), so argparse counts them
    as ``nargs="+"``; their help should still say what a user types.
    """

    def _format_args(self, action: argparse.Action, default_metavar: str) -> str:
        spec = getattr(action, "spec", None)
        if spec is not None and spec.kind == "range":
            return "LOW HIGH"
        return super()._format_args(action, default_metavar)


def add_command_parser(
    subparsers: Any, name: str, *, help: str, description: str, usage_tail: str
) -> argparse.ArgumentParser:
    """Add one command's parser, with a short usage line instead of every option's.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        From ``ArgumentParser.add_subparsers``.
    name : str
        The command.
    help, description : str
        One line for ``parallel-audio --help``; the paragraph for the command's own help.
    usage_tail : str
        What follows the command in the usage line.

    Returns
    -------
    argparse.ArgumentParser
    """
    return subparsers.add_parser(
        name,
        help=help,
        description=description,
        usage=f"%(prog)s {usage_tail}",
        formatter_class=HelpFormatter,
    )


def _add_spec(group: argparse._ArgumentGroup, spec: OptionSpec) -> None:
    if spec.kind == "bool":
        group.add_argument(
            spec.flag,
            dest=spec.dest,
            action=argparse.BooleanOptionalAction,
            default=argparse.SUPPRESS,
            help=_help(spec),
        )
        return
    nargs = "+" if spec.kind in ("range", "strings", "ints") else None
    metavar = _metavar(spec)
    group.add_argument(
        spec.flag,
        dest=spec.dest,
        action=_ValueAction,
        spec=spec,
        nargs=nargs,
        metavar=metavar,
        default=argparse.SUPPRESS,
        help=_help(spec),
    )


def add_generator_options(parser: argparse.ArgumentParser, *, exclude: Iterable[str] = ()) -> None:
    """Add ``--config``, ``--save-config``, the generator's options and the frontend's.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The command's parser.
    exclude : iterable of str
        Constructor parameters the command sets itself (``tune`` varies ``cores``).
    """
    excluded = set(exclude)
    files = parser.add_argument_group("settings files")
    files.add_argument(
        "--config",
        metavar="FILE",
        help="YAML or JSON file of generator settings (the options below, by their Python "
        "names), frontend settings (nested under frontend_settings, or as fe.* keys) and "
        "optionally classes, seed and batch_size; options given here override it",
    )
    files.add_argument(
        "--save-config",
        metavar="FILE",
        help="write the settings in effect to FILE (YAML, or JSON for a .json name)",
    )
    group = parser.add_argument_group(
        "generator options",
        "ParallelAudioDataGenerator's parameters; ranges take LOW HIGH, optional values "
        f"take '{NONE_WORD}'",
    )
    for spec in generator_option_specs():
        if spec.name not in excluded:
            _add_spec(group, spec)
    frontend = parser.add_argument_group(
        "frontend settings", "AudioFeatureGeneratorSettings, the spectrogram's settings"
    )
    for spec in frontend_option_specs():
        _add_spec(frontend, spec)


# ----------------------------------------------------------------------------- config files


def load_config(path: str | os.PathLike) -> DataSettings:
    """Read a YAML or JSON config file into DataSettings.

    Parameters
    ----------
    path : str or os.PathLike
        The file, read as :func:`parallel_audio.cli.config_file.read_config` reads it: JSON
        is YAML, booleans are YAML 1.2's (``yes``, ``no``, ``on``, ``off`` are text), at most
        1 MiB whose aliases expand to at most 10 000 values.

    Returns
    -------
    DataSettings

    Raises
    ------
    CommandLineError
        The file cannot be read, is not a mapping, or names a key that is no setting.
    """
    from parallel_audio.cli.config_file import ConfigFileProblem, read_config

    name = printable_path(os.fspath(path))
    try:
        content = read_config(path)
    except ConfigFileProblem as error:
        raise CommandLineError(str(error)) from None
    if content is None:
        content = {}
    if not isinstance(content, Mapping):
        raise CommandLineError(
            f"config file {name!r} must hold a mapping of setting names to values, "
            f"got {type(content).__name__}"
        )
    return settings_from_mapping(content, source=f"config file {name!r}")


def settings_from_mapping(content: Mapping[str, Any], *, source: str = "settings") -> DataSettings:
    """Sort a flat or nested mapping of settings into DataSettings, rejecting unknown keys."""
    generator_names = {spec.name for spec in generator_option_specs()}
    frontend_names = set(frontend_setting_names())
    derived = {key[len(KEY_PREFIX) :] for key in AudioFeatureGeneratorSettings().to_dict()}
    derived -= frontend_names
    settings = DataSettings()
    unknown = []
    for raw_key, value in content.items():
        key = str(raw_key).replace("-", "_")
        if key in DATASET_KEYS:
            setattr(settings, key, _dataset_value(key, value, source))
        elif key == "frontend_settings":
            if not isinstance(value, Mapping):
                raise CommandLineError(
                    f"{source}: frontend_settings must be a mapping of setting names to values"
                )
            nested = {f"{KEY_PREFIX}{k}": v for k, v in value.items()}
            settings.frontend.update(settings_from_mapping(nested, source=source).frontend)
        elif key.startswith(KEY_PREFIX):
            name = key[len(KEY_PREFIX) :]
            if name in frontend_names:
                settings.frontend[name] = value
            elif name not in derived:
                unknown.append(str(raw_key))
        elif key in generator_names:
            settings.generator_kwargs[key] = value
        else:
            unknown.append(str(raw_key))
    if unknown:
        raise CommandLineError(
            f"{source} holds unknown settings {', '.join(repr(k) for k in unknown)}; the known "
            f"ones are the generator's parameters ({', '.join(sorted(generator_names))}), "
            f"frontend settings as fe.<name> or under frontend_settings "
            f"({', '.join(sorted(frontend_names))}), and {', '.join(DATASET_KEYS)}"
        )
    return settings


def _dataset_value(key: str, value: Any, source: str) -> Any:
    """Check ``classes`` (a list of names), ``seed`` and ``batch_size`` (ints) from a file."""
    if value is None:
        return None
    if key == "classes":
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, Sequence) or not all(isinstance(v, str) for v in value):
            raise CommandLineError(
                f"{source}: classes must be a list of names (quote a name YAML reads as a "
                f"number: '1'), got {short_repr(value)}"
            )
        return list(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise CommandLineError(f"{source}: {key} must be an integer, got {short_repr(value)}")
    return value


def save_config(settings: DataSettings, path: str | os.PathLike) -> None:
    """Write settings as YAML, or JSON when the file name ends in ``.json``."""
    config = settings.to_config()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as file:
        if os.fspath(path).lower().endswith(".json"):
            json.dump(config, file, indent=2)
            file.write("\n")
        else:
            import yaml

            file.write("# parallel_audio data settings\n")
            yaml.safe_dump(config, file, sort_keys=False)


# ----------------------------------------------------------------------------- resolution


def resolve_settings(args: argparse.Namespace, base: DataSettings | None = None) -> DataSettings:
    """Merge a command's base settings, the ``--config`` file and the command line.

    Later sources win: ``base`` (the command's own defaults), then the config file, then the
    options given on the command line. The command's own ``--classes``, ``--seed`` and
    ``--batch-size``, when it has them and they were given, override the file's.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line of a parser that went through :func:`add_generator_options`.
    base : DataSettings, optional
        The command's defaults.

    Returns
    -------
    DataSettings
    """
    merged = DataSettings()
    sources = [base] if base is not None else []
    if getattr(args, "config", None):
        sources.append(load_config(args.config))
    for source in sources:
        merged.generator_kwargs.update(source.generator_kwargs)
        merged.frontend.update(source.frontend)
        for key in DATASET_KEYS:
            if getattr(source, key) is not None:
                setattr(merged, key, getattr(source, key))
    for dest, value in vars(args).items():
        if dest.startswith(_GENERATOR_DEST):
            merged.generator_kwargs[dest[len(_GENERATOR_DEST) :]] = value
        elif dest.startswith(_FRONTEND_DEST):
            merged.frontend[dest[len(_FRONTEND_DEST) :]] = value
    for key in DATASET_KEYS:
        value = getattr(args, key, None)
        if value is not None:
            setattr(merged, key, list(value) if key == "classes" else value)
    if getattr(args, "save_config", None):
        build_generator(merged)  # a file of settings the generator rejects helps no one
        save_config(merged, args.save_config)
    return merged


def build_generator(
    settings: DataSettings,
    *,
    base_frontend: AudioFeatureGeneratorSettings | None = None,
    **overrides: Any,
):
    """Construct the generator, turning its validation errors into a CommandLineError.

    Parameters
    ----------
    settings : DataSettings
        From :func:`resolve_settings`.
    base_frontend : AudioFeatureGeneratorSettings, optional
        Frontend settings the command starts from (the defaults when None).
    **overrides
        Constructor arguments the command imposes, applied last.

    Returns
    -------
    ParallelAudioDataGenerator

    Raises
    ------
    CommandLineError
        With the generator's own message when it rejects a setting.
    """
    cls = _generator_class()
    kwargs = dict(settings.generator_kwargs)
    kwargs.update(overrides)
    try:
        kwargs["frontend_settings"] = settings.frontend_settings(base_frontend)
        return cls(**kwargs)
    except (ValueError, TypeError, NotImplementedError) as error:
        raise CommandLineError(str(error)) from None


def check_classes(classes: Sequence[str] | None, command: str) -> list[str]:
    """Return the classes, or raise saying how to give them."""
    if not classes:
        raise CommandLineError(
            f"{command} needs the classes: pass --classes NAME [NAME ...] or put "
            "'classes: [...]' in the --config file"
        )
    return list(classes)
