"""``parallel-audio cv``: grouped k-fold cross-validation of a model on a dataset.

Loads ``--model MODULE:FUNCTION`` (a function returning a compiled Keras model, given the
training iterator when it takes an argument), runs
:func:`parallel_audio.cross_validation.cross_validate` with a progress line per fold, and
prints the results table at the end. An interrupted run continues when run again with the
same ``--results-dir``. The dataset is a folder per class (``DATA_DIR``), or a CSV, TSV or
JSON-lines manifest (``--manifest FILE``, read by ``flow_from_manifest``; ``DATA_DIR`` is then
where its relative paths start, by default the manifest's folder).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from typing import Any

from parallel_audio.cli.data_settings import CommandLineError, build_generator
from parallel_audio.cli.manifest_options import add_manifest_options
from parallel_audio.cli.options import add_command_parser, add_generator_options, resolve_settings
from parallel_audio.listing import class_folders
from parallel_audio.splits import FOLD_STRATEGIES


def add_parser(subparsers: Any) -> None:
    """Add the ``cv`` command."""
    parser = add_command_parser(
        subparsers,
        "cv",
        usage_tail="(DATA_DIR | --manifest FILE) --model MODULE:FUNCTION [--num-folds K]"
        " [--classes NAME ...]"
        " [--epochs N] [--results-dir DIR] [--config FILE] [generator options]",
        help="k-fold cross-validation by speaker: a fresh model per fold, results in one table",
        description="Train and validate a fresh model on each fold of a grouped k-fold split "
        "(speakers never straddle folds); write each fold's history and model, results.csv "
        "(final and best metrics per fold, mean and std) and summary.json to --results-dir. "
        "Run again with the same --results-dir to continue an interrupted run.",
    )
    parser.add_argument(
        "data_dir",
        metavar="DATA_DIR",
        nargs="?",
        default=None,
        help="dataset: one folder per class; with --manifest, the folder relative paths start "
        "from (default: the manifest's)",
    )
    add_manifest_options(parser)
    parser.add_argument(
        "--group-col",
        default=None,
        help="with --manifest: the column of each row's group (speaker, session) that folds "
        "keep together (default: the speaker of the file name, as for folders)",
    )
    parser.add_argument(
        "--model",
        required=True,
        metavar="MODULE:FUNCTION",
        help="function returning a compiled Keras model: a module name or a .py file, a "
        "colon, the function's name; it receives the training iterator if it takes an argument",
    )
    parser.add_argument("--num-folds", type=int, default=5, help="number of folds (5)")
    parser.add_argument(
        "--fold-strategy",
        choices=FOLD_STRATEGIES,
        default="hash",
        help="how speakers are dealt to folds (hash)",
    )
    parser.add_argument("--fold-seed", type=int, default=None, help="another fold partition")
    parser.add_argument(
        "--classes",
        nargs="+",
        metavar="NAME",
        help="classes as for flow_from_directory (default: every class folder, or the "
        "manifest's labels)",
    )
    parser.add_argument("--epochs", type=int, default=1, help="epochs per fold (1)")
    parser.add_argument("--batch-size", type=int, default=None, help="samples per batch (32)")
    parser.add_argument("--seed", type=int, default=None, help="fold k uses seed + k (0)")
    parser.add_argument(
        "--results-dir", default="cv_results", metavar="DIR", help="where results go (cv_results)"
    )
    parser.add_argument(
        "--no-resume",
        dest="resume",
        action="store_false",
        help="train every fold again instead of skipping those already in --results-dir",
    )
    add_generator_options(parser)
    parser.set_defaults(run=run)


def load_function(reference: str) -> Callable[..., Any]:
    """Return the function ``MODULE:FUNCTION`` names (the module may be a ``.py`` path)."""
    module_name, colon, function_name = reference.rpartition(":")
    if not colon or not module_name or not function_name:
        raise CommandLineError(
            f"--model must be MODULE:FUNCTION (for instance models.py:build), got {reference!r}"
        )
    try:
        if module_name.endswith(".py") or os.sep in module_name:
            if not os.path.isfile(module_name):
                raise CommandLineError(f"--model: no file {module_name!r}")
            spec = importlib.util.spec_from_file_location("_cv_model", module_name)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        else:
            if os.getcwd() not in sys.path:
                sys.path.insert(0, os.getcwd())  # a module next to the user, as python -m does
            module = importlib.import_module(module_name)
    except ImportError as error:
        raise CommandLineError(f"--model: cannot import {module_name!r}: {error}") from None
    function = getattr(module, function_name, None)
    if not callable(function):
        raise CommandLineError(f"--model: {module_name!r} has no function {function_name!r}")
    return function


def run(args: argparse.Namespace) -> int:
    """Run ``cv``."""
    from parallel_audio.cross_validation import cross_validate, format_results

    settings = resolve_settings(args)
    generator = build_generator(settings)
    if args.epochs < 1:
        raise CommandLineError(f"--epochs must be at least 1, got {args.epochs}")
    source, flow, flow_kwargs = _dataset(args, settings.classes)
    build_model = load_function(args.model)
    result = cross_validate(
        generator,
        source,
        flow=flow,
        num_folds=args.num_folds,
        build_model=build_model,
        fit_kwargs={"epochs": args.epochs, "verbose": 0},
        results_dir=args.results_dir,
        resume=args.resume,
        seed=settings.seed if settings.seed is not None else 0,
        fold_strategy=args.fold_strategy,
        fold_seed=args.fold_seed,
        batch_size=settings.batch_size or 32,
        progress=lambda line: print(line, flush=True),
        **flow_kwargs,
    )
    print()
    print(format_results(result))
    print(f"\nresults in {os.path.join(args.results_dir, 'results.csv')}")
    return 0


def _dataset(
    args: argparse.Namespace, classes: list[str] | None
) -> tuple[str, str, dict[str, Any]]:
    """Return the source, the flow_* method reading it and its keywords, from the options."""
    if args.manifest is None:
        if args.data_dir is None:
            raise CommandLineError("cv needs DATA_DIR (a folder per class) or --manifest FILE")
        if not os.path.isdir(args.data_dir):
            raise CommandLineError(f"dataset directory {args.data_dir!r} does not exist")
        if args.group_col is not None:
            raise CommandLineError("--group-col names a manifest's column: it needs --manifest")
        return (
            args.data_dir,
            "flow_from_directory",
            {"classes": classes or class_folders(args.data_dir)},
        )
    if not os.path.isfile(args.manifest):
        raise CommandLineError(f"manifest {args.manifest!r} does not exist")
    if args.data_dir is not None and not os.path.isdir(args.data_dir):
        raise CommandLineError(f"directory {args.data_dir!r} does not exist")
    options = {
        "directory": args.data_dir,
        "sep": args.sep,
        "x_col": args.x_col,
        "y_col": args.y_col,
        "start_col": args.start_col,
        "end_col": args.end_col,
        "label_sep": args.label_sep,
        "group_col": args.group_col,
        "classes": classes,
    }
    # Options left out keep flow_from_manifest's defaults (NeMo's keys among them).
    return args.manifest, "flow_from_manifest", {k: v for k, v in options.items() if v is not None}
