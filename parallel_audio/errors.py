"""Exceptions raised by parallel_audio; every one derives from ParallelAudioError."""


class ParallelAudioError(Exception):
    """Root of every exception parallel_audio raises on purpose."""


class SettingsError(ParallelAudioError, ValueError):
    """A setting is outside the range it allows; the message names both."""


class DatasetError(ParallelAudioError, ValueError):
    """The dataset folder or the arguments describing it cannot give a usable index."""


class AudioFileError(ParallelAudioError):
    """An audio file cannot be used; ``path`` names it and the message says why."""

    def __init__(self, path: object, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")

    def __reduce__(self):
        return (type(self), (self.path, self.problem))


class WorkerError(ParallelAudioError):
    """A worker failed or died; the message carries its traceback, batch and file."""
