"""``parallel-audio cache``: build a dataset's disk cache ahead of training.

Creates, for each subset training would use, the iterator ``flow_from_directory`` creates with
the same settings and ``cache_dir``, which builds (or completes) the cache in its workers and
is then closed; training started later with the same settings decodes nothing.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from parallel_audio.cli.data_settings import CommandLineError, build_generator
from parallel_audio.cli.options import add_command_parser, add_generator_options, resolve_settings


def add_parser(subparsers: Any) -> None:
    """Add the ``cache`` command."""
    from parallel_audio.cache import CACHE_DTYPES, CACHE_KINDS, CACHE_VALIDATIONS

    parser = add_command_parser(
        subparsers,
        "cache",
        usage_tail="DATA_DIR --cache-dir DIR [--classes NAME ...] [--cache KIND] [--seed N] "
        "[--config FILE] [generator options]",
        help="build a dataset's disk cache ahead of training",
        description="Decode a dataset into the disk cache flow_from_directory(cache_dir=...) "
        "reads, with the generator's settings (the same options or --config as training): "
        "each subset training uses (training, validation with --validation-split, test with "
        "--test-split), in parallel with --cores. Files already cached and unchanged are not "
        "decoded again.",
    )
    parser.add_argument("data_dir", metavar="DATA_DIR", help="dataset: one folder per class")
    parser.add_argument("--cache-dir", required=True, metavar="DIR", help="the cache's folder")
    parser.add_argument(
        "--classes",
        nargs="+",
        metavar="NAME",
        help="classes as for flow_from_directory (default: every class folder)",
    )
    parser.add_argument("--seed", type=int, default=None, help="seed of the _unknown_ draw")
    parser.add_argument("--cache", choices=CACHE_KINDS, default="auto", dest="cache_kind")
    parser.add_argument("--cache-dtype", choices=CACHE_DTYPES, default="float32")
    parser.add_argument("--cache-validate", choices=CACHE_VALIDATIONS, default="stat")
    parser.add_argument(
        "--on-error", choices=("raise", "skip"), default="raise", help="as flow_from_directory's"
    )
    add_generator_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run ``cache``."""
    from parallel_audio.cache.report import format_report, survey_cache
    from parallel_audio.listing import class_folders

    settings = resolve_settings(args)
    generator = build_generator(settings)
    directory = args.data_dir
    if not os.path.isdir(directory):
        raise CommandLineError(f"dataset directory {directory!r} does not exist")
    classes = settings.classes or class_folders(directory)
    seed = settings.seed if settings.seed is not None else 0
    # Each subset on its own: with cache="auto", unaugmented evaluation subsets cache features.
    subsets = (
        ("training",)
        + (("validation",) if generator.validation_split > 0 else ())
        + (("test",) if generator.test_split > 0 else ())
    )
    if subsets == ("training",):
        subsets = (None,)
    for subset in subsets:
        iterator = generator.flow_from_directory(
            directory,
            classes,
            subset=subset,
            seed=seed,
            on_error=args.on_error,
            cache_dir=args.cache_dir,
            cache=args.cache_kind,
            cache_dtype=args.cache_dtype,
            cache_validate=args.cache_validate,
        )
        cache = iterator.process_params.sample_cache
        files = [name for name in iterator.filenames if name is not None]
        iterator.close()
        print(
            f"{subset or 'all files'}: {len(set(files))} files cached as {cache.kind} in "
            f"{os.path.dirname(cache.chunks.folder)}"
        )
        reports = [
            report
            for report in survey_cache(
                args.cache_dir, directory=directory, files=sorted(set(files))
            )
            if report.folder == os.path.dirname(cache.chunks.folder)
        ]
        print("\n".join(format_report(reports, with_files=True)))
    return 0
