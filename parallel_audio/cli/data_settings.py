"""The settings a command works from: the generator's arguments, frontend settings, classes.

Commands build one :class:`DataSettings` from their own defaults, a config file and the
command line (:func:`parallel_audio.cli.options.resolve_settings`), then construct the
generator with :func:`build_generator`, which reports the generator's refusal as a
:class:`CommandLineError`: a message for the user, without a traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from parallel_audio.cli.option_specs import generator_class
from parallel_audio.errors import ParallelAudioError
from parallel_audio.frontend_settings import AudioFeatureGeneratorSettings

#: Keys a config file may hold besides the generator's parameters: the dataset's settings.
DATASET_KEYS = ("classes", "seed", "batch_size")


class CommandLineError(ParallelAudioError):
    """A command cannot run as asked; the message says why, and no traceback is shown."""


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
    cls = generator_class()
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
