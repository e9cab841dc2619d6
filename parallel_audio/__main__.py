"""``python -m parallel_audio``: the ``parallel-audio`` command line."""

from parallel_audio.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
