"""The ``parallel-audio`` command line: demo, preview, info, augment, tune, cv and cache.

Each command lives in a module of its own with ``add_parser(subparsers)`` and
``run(args) -> int``. Building the parser imports neither Keras nor TensorFlow nor
matplotlib, so ``parallel-audio info --help`` answers at once; commands import what they need
when they run.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from parallel_audio.errors import DatasetError, ParallelAudioError, SettingsError

#: The commands, in the order ``--help`` lists them; each is the module of the same name.
COMMANDS = ("demo", "preview", "info", "augment", "tune", "cv", "cache")
PROGRAM = "parallel-audio"

__all__ = ["COMMANDS", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of ``parallel-audio`` with every command's sub-parser."""
    from parallel_audio import __version__

    parser = argparse.ArgumentParser(
        prog=PROGRAM,
        description="Audio datasets for Keras training: try, inspect, augment and tune "
        "parallel_audio's generator.",
        epilog=f"'{PROGRAM} COMMAND --help' describes a command and its options.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"parallel_audio.cli.{name}")
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command of the command line.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments after the program name; ``sys.argv[1:]`` when None.

    Returns
    -------
    int
        The exit status: 0 on success, 2 when the settings or the dataset are not usable
        (the message says why), 1 when processing failed, 130 on Ctrl-C.

    Examples
    --------
    >>> main(["info", "data", "--classes", "yes", "no"])  # doctest: +SKIP
    0
    """
    from parallel_audio.cli.common import quiet_tensorflow
    from parallel_audio.cli.data_settings import CommandLineError

    quiet_tensorflow()  # the iterator's Keras may load TensorFlow, which logs at start-up
    parser = build_parser()
    args = parser.parse_args(argv)
    where = f"{PROGRAM} {args.command}"
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print(f"{where}: interrupted", file=sys.stderr)
        return 130
    except (CommandLineError, SettingsError, DatasetError) as error:
        # These carry a message meant for the user; a traceback would only hide it.
        print(f"{where}: error: {error}", file=sys.stderr)
        return 2
    except ParallelAudioError as error:  # a file or a worker failed while processing
        print(f"{where}: error: {error}", file=sys.stderr)
        return 1
