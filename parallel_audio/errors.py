"""Exceptions raised by parallel_audio; every one derives from ParallelAudioError."""


class ParallelAudioError(Exception):
    """Root of every exception parallel_audio raises on purpose."""


class SettingsError(ParallelAudioError, ValueError):
    """A setting is outside the range it allows; the message names both."""
