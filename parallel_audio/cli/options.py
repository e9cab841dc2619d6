"""The generator's options on a command's parser, and the settings a command line resolves to.

Every :class:`~parallel_audio.cli.option_specs.OptionSpec` becomes one argparse option
(``speed_range`` is ``--speed-range LOW HIGH``, frontend settings are
``--fe.window-size-ms 30``, booleans have a ``--no-`` form, ``none`` sets an optional value
to None), next to ``--config`` and ``--save-config``; :func:`resolve_settings` merges a
command's defaults, the config file (:mod:`parallel_audio.cli.config_file`) and the options
given, in that order.

jsonargparse derives a parser from the same signature, but not these command lines: it takes
a range as one word (``[0.9, 1.1]``) and turns ``--pitch-range -2 2`` into floats (octaves,
where two ints are semitones), spells ``None`` as ``null``, has no ``--no-`` form nor dashes
in option names, cannot see the fields of AudioFeatureGeneratorSettings (its constructor
takes ``**settings``), reads ``yes`` and ``no`` as booleans, and reports a bad number over several
lines of union subtypes. Mapping each back would take more code than the specs below.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import Any

from parallel_audio.cli.config_file import load_config, save_config
from parallel_audio.cli.data_settings import (
    DATASET_KEYS,
    DataSettings,
    build_generator,
)
from parallel_audio.cli.option_specs import (
    NONE_WORD,
    OptionSpec,
    frontend_option_specs,
    generator_option_specs,
    value_from_words,
)

_GENERATOR_DEST = "generator:"
_FRONTEND_DEST = "frontend:"


def _dest(spec: OptionSpec) -> str:
    """Where argparse stores an option's value; apart from every command's own options."""
    return (_FRONTEND_DEST if spec.frontend else _GENERATOR_DEST) + spec.name


# ----------------------------------------------------------------------------- argparse


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
        words = values if isinstance(values, list) else [values]
        try:
            value = value_from_words(self.spec, words)
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
            dest=_dest(spec),
            action=argparse.BooleanOptionalAction,
            default=argparse.SUPPRESS,
            help=_help(spec),
        )
        return
    nargs = "+" if spec.kind in ("range", "strings", "ints") else None
    metavar = _metavar(spec)
    group.add_argument(
        spec.flag,
        dest=_dest(spec),
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
