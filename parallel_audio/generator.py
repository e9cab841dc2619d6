"""ParallelAudioDataGenerator: the configuration of the sample pipeline, and MLTK's methods."""

from __future__ import annotations

import contextlib
import copy
import inspect
import os
import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from parallel_audio.audio_ops import fit_to_length, resample
from parallel_audio.augment import AugmentationTransform
from parallel_audio.errors import DatasetError, SettingsError
from parallel_audio.frontend_settings import (
    KEY_PREFIX,
    SETTING_NAMES,
    AudioFeatureGeneratorSettings,
)
from parallel_audio.sample_runtime import RuntimeCache, SampleRuntime, background_noise_folder
from parallel_audio.validation import (
    FRONTEND_DTYPES,
    PARAMETER_CHECKS,
    check_bool,
    check_choice,
    check_executor,
    check_flow_arguments,
    check_noise_level,
    check_sample_length,
    check_sample_shape,
    warn_at_caller,
)

if TYPE_CHECKING:
    from parallel_audio.iterator import ParallelAudioIterator
    from parallel_audio.pool.executor import Executor

#: ``flow_from_directory`` keywords of the reference that have no meaning for audio and are
#: ignored without a word: the reference's dataset mixin passes ``target_size`` every time.
SILENTLY_IGNORED_KEYWORDS = frozenset({"target_size"})
#: Constructor parameters that take Python objects, which no config file holds.
OBJECT_PARAMETERS = frozenset(
    {
        "get_batch_function",
        "noaug_preprocessing_function",
        "preprocessing_function",
        "postprocessing_function",
        "augmentations",
    }
)
#: A config file's keys that belong to flow_from_directory, not to the generator.
_DATASET_KEYS = ("classes", "seed", "batch_size")
#: Parameters whose allowed values depend on each other, checked together on every change.
_NOISE_LEVEL_PARAMETERS = frozenset({"noise_level_mode", "noise_color_range", "bg_noise_range"})


class _CacheArguments(NamedTuple):
    """The disk cache arguments of a ``flow_*`` method, as given (checked in ``_flow``)."""

    cache_dir: str | os.PathLike | None
    cache: str
    cache_dtype: str
    cache_validate: str


class ParallelAudioDataGenerator:
    """Turns a directory of audio files into batches of augmented spectrograms.

    Every parameter of the reference generator exists with the same name, default and
    meaning; :meth:`flow_from_directory` returns a Keras ``PyDataset`` for ``model.fit``.
    Each sample goes through: read (any format, mixed to mono, resampled to the frontend's
    rate) → ``noaug_preprocessing_function`` → random transform drawn from the sample's own
    generator → trim silence → speed, pitch and VTLP → pad to the sample length at the drawn
    offset → loudness → colored or background noise → ``augmentations`` →
    ``preprocessing_function`` → microfrontend → ``postprocessing_function`` →
    :meth:`standardize` → ``dtype`` and channel axis.

    Parameters
    ----------
    cores : int or float
        Worker processes: an int (0 runs in the caller's thread; -1 is every core; more
        than the machine's cores is clamped to them), or a fraction in (0, 1] of the
        machine's cores. Default 0.25.
    debug : bool
        Run workers as threads, so breakpoints in the pipeline and callbacks stop.
    max_batches_pending : int
        At most this many batches are computed ahead of the consumer, >= 1 and at most 256.
    batch_timeout : float, optional
        Seconds a worker process may spend on one batch, > 0 and at most 604800 (a week).
        A worker that takes longer is
        taken for hung: it is killed and replaced, with a RuntimeWarning, and its batches
        are computed again; a batch that hangs two workers raises WorkerError. None waits
        forever. Debug threads are never timed. Default 300.
    get_batch_function : callable, optional
        ``f(batch_index, filenames, classes, params) -> (batch_index, (x, y))``; replaces
        the whole pipeline.
    noaug_preprocessing_function, preprocessing_function, postprocessing_function : callable
        ``f(params, x, [batch_index, class_id, filename, batch_class_ids, batch_filenames,
        rng]) -> x``, called before augmentation (float32 audio; of a long file, the excerpt
        the sample uses), before the frontend (float32 audio of the sample length) and after
        it (the spectrogram). The optional arguments are passed when the signature names
        them (as the reference does, a ``**kwargs`` parameter receives none of them); ``rng``
        is the sample's own
        ``numpy.random.Generator``.
    samplewise_center, samplewise_std_normalization : bool
        Subtract each sample's mean; divide by its standard deviation (+1e-6).
    samplewise_normalize_range : (float, float), optional
        Scale each sample linearly onto this range, after the other normalizations; within
        [-1e6, 1e6].
    rescale : float, optional
        Multiply each sample by this value first; of a magnitude at most 1e6.
    validation_split : float
        Fraction of speakers (or files) held out for ``subset="validation"``, in [0, 1).
    validation_augmentation_enabled : bool
        Augment validation samples too, and those of ``subset="test"``. When False, their
        ``_silence_`` samples still get their noise, one fixed draw per sample, the same
        every epoch (MLTK's are zeros).
    dtype : str or numpy dtype
        dtype of the samples in a batch (and of labels), stored as ``numpy.dtype`` (so
        ``generator.dtype == np.int8`` holds). Default float32.
    frontend_dtype : {"uint16", "float32", "int8"}, optional
        dtype the frontend produces before standardization, stored as ``numpy.dtype``;
        default ``dtype``.
    trim_threshold_db : float, optional
        Leading and trailing audio more than this many dB below the clip's loudest frame
        is cut (``librosa.effects.trim`` semantics), at most 300. None or 0 keeps the clip
        whole. Default 20.
    noise_colors : str or list of str, optional
        Colored noise to add: among white, pink, brown (power falling as 1/f^0, 1/f,
        1/f^2), blue, violet (rising as f, f^2); or "all", or "none".
    noise_color_range : (float, float), optional
        Level of the colored noise, see ``noise_level_mode``: within [0, 100] as factors,
        within [-100, 100] dB as signal-to-noise ratios.
    speed_range : (float, float), optional
        Tempo factor within [0.1, 10] (< 1 slower and longer, > 1 faster and shorter), pitch
        kept. Drawn continuously over the range.
    pitch_range : (int, int) or (float, float), optional
        Pitch shift, duration kept: two ints are semitone steps (both ends drawn); with a
        float the range is in octaves, times 12 in semitones (``(-0.5, 0.5)`` is -6 to +6);
        at most 24 semitones either way (2 octaves as floats).
        A float range reaching beyond 6 semitones, such as ``(0.9, 1.1)`` (+10.8 to +13.2),
        warns: it was most likely meant as frequency factors.
    vtlp_range : (float, float), optional
        Vocal tract length perturbation factor within [0.5, 2]: frequencies below 4800 Hz are
        scaled by it, the band above is warped linearly up to Nyquist.
    loudness_range : (float, float), optional
        Gain drawn per sample, within [0, 100] (< 1 quieter, > 1 louder); it also scales the
        noise.
    bg_noise_range : (float, float), optional
        Level of the background noise, see ``noise_level_mode``: within [0, 100] as factors,
        within [-100, 100] dB as signal-to-noise ratios.
    bg_noise_dir : str, optional
        Folder of background noise recordings (every audio file in it), used as given when
        it exists, else relative to the ``flow_from_directory`` directory. Each sample gets
        a crop of a random file at a random position, looped if shorter than the sample.
        With both noises configured each sample gets one of them, 50/50; ``_silence_``
        samples get background noise (else colored noise) and nothing else.
    offset_range : (float, float)
        Where the trimmed clip sits in the padded sample, as a fraction of the padding in
        front of it, within [0, 1]. Default (0.0, 1.0).
    unknown_class_percentage, silence_class_percentage : float
        Size of the ``_unknown_`` / ``_silence_`` classes relative to the smallest real
        class, >= 0 and at most 100. Defaults 1.0 and 0.6.
    disable_random_transforms : bool
        No augmentation at all (clips are still trimmed and padded at offset 0).
    frontend_settings : AudioFeatureGeneratorSettings, optional
        The microfrontend's settings; their sample rate and length define the samples, of at
        most 2**21 values (131 s at 16 kHz) and, with the frontend on, at least one window. The
        generator holds this object itself, as the reference does: later changes to it
        (or to :attr:`sample_rate_hz` and :attr:`sample_length_ms`) are followed by the
        generator's methods and by iterators created afterwards.
    frontend_enabled : bool
        Return spectrograms (True) or the augmented audio (False). With False the frontend
        settings are not checked against each other (a 360 Hz signal needs no filterbank).
    sample_shape : tuple of int, optional
        Shape of a sample, dimensions >= 1 and at most 2**24 values; required with
        ``frontend_enabled=False``, ignored otherwise.
    disable_gpu_in_subprocesses : bool
        Hide GPUs from worker processes.
    add_channel_dimension : bool
        Spectrograms of shape (frames, channels, 1) instead of (frames, channels).
    noise_level_mode : {"factor", "snr_db"}
        How ``noise_color_range`` and ``bg_noise_range`` read, with ``x`` the clip after
        loudness, ``g`` the loudness gain, ``n`` the colored noise (peak-normalized over its
        buffer) and ``b`` the background crop at its recorded level. "factor" (the
        reference's meaning, 0.0 no noise, 1.0 full noise): ``y = x + g * level * n`` (or
        ``b``). "snr_db": ``level`` is the signal-to-noise ratio in dB, loudness measured in
        LUFS with ``pyloudnorm``: ``y = x + 10 ** ((L(x) - level - L(n)) / 20) * n``; a silent
        clip counts as -23 LUFS.
    augmentations : audiomentations transform or list of them, optional
        Applied after the built-in augmentations, before ``preprocessing_function``,
        reproducibly: the global random states they draw from are seeded from the sample's
        generator. Output of another length is fitted back to the sample length.
    test_split : float
        Fraction of speakers (or files) held out for ``subset="test"``, in [0, 1), grouped as
        ``validation_split`` and disjoint from it; ``validation_split`` keeps its meaning and
        the two add up to less than 1. Default 0.

    Notes
    -----
    Every parameter is an attribute of the same name, checked again whenever it is
    assigned (``generator.speed_range = (0.8, 1.2)``). The generator is configuration only:
    each iterator takes an immutable snapshot of it (frontend settings included) when
    :meth:`flow_from_directory` creates it and keeps that configuration for its life, while
    the generator's own methods and later iterators follow any change. Callbacks and
    ``augmentations`` objects are shared with the snapshot, not copied. What the
    configuration needs at run time for a dataset (its background noise, the native
    frontend, the augmentation policy of :mod:`parallel_audio.augment`) is a
    :class:`~parallel_audio.sample_runtime.SampleRuntime`: each iterator builds its own and
    sends it to its workers; the generator's methods build theirs on demand.

    Examples
    --------
    >>> generator = ParallelAudioDataGenerator(cores=0, loudness_range=(0.8, 1.2))
    >>> generator.sample_shape
    (98, 32)
    >>> generator.frontend_settings.filterbank_n_channels = 40
    >>> generator.sample_shape
    (98, 40)
    """

    def __init__(
        self,
        cores: int | float = 0.25,
        debug: bool = False,
        max_batches_pending: int = 4,
        batch_timeout: float | None = 300.0,
        get_batch_function: Callable | None = None,
        noaug_preprocessing_function: Callable | None = None,
        preprocessing_function: Callable | None = None,
        postprocessing_function: Callable | None = None,
        samplewise_center: bool = False,
        samplewise_std_normalization: bool = False,
        samplewise_normalize_range: tuple[float, float] | None = None,
        rescale: float | None = None,
        validation_split: float = 0.0,
        validation_augmentation_enabled: bool = True,
        dtype: str = "float32",
        frontend_dtype: str | None = None,
        trim_threshold_db: float | None = 20,
        noise_colors: str | Sequence[str] | None = None,
        noise_color_range: tuple[float, float] | None = None,
        speed_range: tuple[float, float] | None = None,
        pitch_range: tuple[float, float] | None = None,
        vtlp_range: tuple[float, float] | None = None,
        loudness_range: tuple[float, float] | None = None,
        bg_noise_range: tuple[float, float] | None = None,
        bg_noise_dir: str | None = None,
        offset_range: tuple[float, float] = (0.0, 1.0),
        unknown_class_percentage: float = 1.0,
        silence_class_percentage: float = 0.6,
        disable_random_transforms: bool = False,
        frontend_settings: AudioFeatureGeneratorSettings | None = None,
        frontend_enabled: bool = True,
        sample_shape: tuple[int, ...] | None = None,
        disable_gpu_in_subprocesses: bool = True,
        add_channel_dimension: bool = True,
        noise_level_mode: str = "factor",
        augmentations: Any = None,
        test_split: float = 0.0,
    ) -> None:
        self.cores = cores
        self.debug = debug
        self.max_batches_pending = max_batches_pending
        self.batch_timeout = batch_timeout
        self.get_batch_function = get_batch_function
        self.noaug_preprocessing_function = noaug_preprocessing_function
        self.preprocessing_function = preprocessing_function
        self.postprocessing_function = postprocessing_function
        self.samplewise_center = samplewise_center
        self.samplewise_std_normalization = samplewise_std_normalization
        self.samplewise_normalize_range = samplewise_normalize_range
        self.rescale = rescale
        self.validation_split = validation_split
        self.validation_augmentation_enabled = validation_augmentation_enabled
        self.dtype = dtype
        self.frontend_dtype = frontend_dtype
        self.trim_threshold_db = trim_threshold_db
        self.noise_level_mode = noise_level_mode
        self.noise_colors = noise_colors
        self.noise_color_range = noise_color_range
        self.speed_range = speed_range
        self.pitch_range = pitch_range  # a float range beyond 6 semitones warns
        self.vtlp_range = vtlp_range
        self.loudness_range = loudness_range
        self.bg_noise_range = bg_noise_range
        self.bg_noise_dir = bg_noise_dir
        self.augmentations = augmentations
        self.test_split = test_split
        self.offset_range = offset_range
        self.unknown_class_percentage = unknown_class_percentage
        self.silence_class_percentage = silence_class_percentage
        self.disable_random_transforms = disable_random_transforms
        self.frontend_settings = frontend_settings
        self.frontend_enabled = frontend_enabled
        self.add_channel_dimension = add_channel_dimension
        self.disable_gpu_in_subprocesses = disable_gpu_in_subprocesses
        # Used only with the frontend off (the reference ignores it otherwise too).
        self._sample_shape = check_sample_shape("sample_shape", sample_shape)
        # The dataset of the last flow_from_directory: where the generator's own methods find
        # a relative bg_noise_dir, as the reference's use the noise its last flow read.
        self._dataset_directory: str | None = None
        self._check_configuration()
        self._warn_about_unused_noise_settings()

    def __setattr__(self, name: str, value: Any) -> None:
        # Every parameter is checked on assignment, later ones as in the constructor; a
        # snapshot refuses changes to its configuration (its private caches stay writable).
        if not name.startswith("_") and self.is_snapshot:
            raise TypeError(
                f"cannot set {name!r}: this generator is an iterator's frozen snapshot of the "
                "configuration it was created with; change the ParallelAudioDataGenerator "
                "itself and create a new iterator with flow_from_directory"
            )
        check = PARAMETER_CHECKS.get(name)
        if check is not None:
            value = check(name, value)
        if name not in _NOISE_LEVEL_PARAMETERS:
            object.__setattr__(self, name, value)
            return
        previous = self.__dict__.get(name)
        object.__setattr__(self, name, value)
        try:
            self._check_noise_levels()
        except SettingsError:
            object.__setattr__(self, name, previous)
            raise

    def _check_noise_levels(self) -> None:
        """Noise levels within their mode's bounds: [0, 100] as factors, +-100 dB as SNRs."""
        mode = self.__dict__.get("noise_level_mode")
        if mode is not None:
            for name in ("noise_color_range", "bg_noise_range"):
                check_noise_level(name, self.__dict__.get(name), mode)

    def _check_configuration(self) -> None:
        """Check what involves several parameters; run at construction and per snapshot."""
        self._check_noise_levels()
        check_sample_length(self.frontend_settings, self.frontend_enabled)
        if self.frontend_enabled:
            self.frontend_settings.validate()
        elif self._sample_shape is None:
            raise SettingsError(
                "sample_shape is required with frontend_enabled=False, for instance "
                f"({self.frontend_settings.sample_length},)"
            )

    def _warn_about_unused_noise_settings(self) -> None:
        # Legal for the reference, but they add nothing: say so instead of staying silent.
        pairs = (
            ("noise_colors", bool(self.noise_colors), "noise_color_range", self.noise_color_range),
            ("bg_noise_dir", self.bg_noise_dir is not None, "bg_noise_range", self.bg_noise_range),
        )
        for source, has_source, level, has_level in pairs:
            if has_source != (has_level is not None):
                missing = level if has_source else source
                present = source if has_source else level
                warn_at_caller(f"{present} is set but {missing} is not: no such noise is added")

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        # What the generator's own methods built is rebuilt where they are called.
        state.pop("_runtime_cache", None)
        state.pop("_snapshot_runtime", None)
        return state

    def snapshot(self) -> ParallelAudioDataGenerator:
        """Return an immutable copy of the configuration as it is now: what an iterator holds.

        The copy is a generator whose methods work as this one's do, but whose parameters
        and frontend settings (a :class:`FrozenAudioFeatureGeneratorSettings`) refuse every
        change. Callbacks and ``augmentations`` are shared, not copied; nothing the
        generator's methods built or loaded is (the copy builds its own when its methods are
        called).
        """
        self._check_configuration()
        snapshot = copy.copy(self)
        for built in ("_runtime_cache", "_snapshot_runtime"):
            snapshot.__dict__.pop(built, None)
        object.__setattr__(snapshot, "frontend_settings", self.frontend_settings.frozen())
        object.__setattr__(snapshot, "_frozen", True)
        return snapshot

    def get_config(self) -> dict[str, Any]:
        """Return every setting as plain values, under the keys of the command line's config file.

        Keras' idiom: ``ParallelAudioDataGenerator.from_config(generator.get_config())`` is a
        generator with the same settings. The keys are the constructor's parameter names and
        ``fe.<name>`` for each frontend setting, as ``parallel-audio ... --save-config``
        writes them; values are YAML- and JSON-safe (lists, numbers, strings, None), so the
        dict can be written to a config file and read back by ``--config``. Callbacks and
        ``augmentations`` are Python objects and are not part of it: pass them to
        :meth:`from_config` again.

        Returns
        -------
        dict of str to object

        Examples
        --------
        >>> config = ParallelAudioDataGenerator(cores=0, speed_range=(0.9, 1.1)).get_config()
        >>> config["speed_range"], config["fe.window_size_ms"]
        ([0.9, 1.1], 25)
        """
        config: dict[str, Any] = {}
        for name in _config_parameters(type(self)):
            value = self._sample_shape if name == "sample_shape" else getattr(self, name)
            config[name] = _plain_setting(value)
        for name in SETTING_NAMES:
            config[KEY_PREFIX + name] = _plain_setting(getattr(self.frontend_settings, name))
        return config

    @classmethod
    def from_config(cls, config: Mapping[str, Any], **objects: Any) -> ParallelAudioDataGenerator:
        """Build a generator from :meth:`get_config`'s dict or a config file's content.

        Parameters
        ----------
        config : mapping
            Settings under the constructor's names (dashes allowed for underscores);
            frontend settings as ``fe.<name>`` keys or nested under ``frontend_settings``. A
            config file's dataset keys (``classes``, ``seed``, ``batch_size``) are accepted
            and ignored: they belong to ``flow_from_directory``. Settings left out take
            their defaults; lists become the tuples the constructor takes.
        **objects
            Constructor arguments no config holds: callbacks and ``augmentations``.

        Returns
        -------
        ParallelAudioDataGenerator

        Raises
        ------
        SettingsError
            A key that is no setting (named), or a value the constructor refuses.
        """
        parameters = set(_config_parameters(cls))
        kwargs: dict[str, Any] = {}
        frontend: dict[str, Any] = {}
        unknown = []
        for raw_key, value in config.items():
            key = str(raw_key).replace("-", "_")
            if key in _DATASET_KEYS:
                continue
            if key == "frontend_settings" and isinstance(value, Mapping):
                frontend.update({KEY_PREFIX + str(k): v for k, v in value.items()})
            elif key.startswith(KEY_PREFIX):
                frontend[key] = value
            elif key in parameters:
                kwargs[key] = tuple(value) if isinstance(value, list) else value
            else:
                unknown.append(str(raw_key))
        if unknown:
            raise SettingsError(
                f"from_config: unknown settings {', '.join(map(repr, unknown))}; the settings "
                f"are the constructor's parameters ({', '.join(sorted(parameters))}) and "
                "frontend settings as fe.<name> keys"
            )
        try:
            frontend_settings = AudioFeatureGeneratorSettings.from_dict(frontend)
        except AttributeError as error:  # an unknown fe. key
            raise SettingsError(f"from_config: {error}") from None
        return cls(**kwargs, frontend_settings=frontend_settings, **objects)

    @property
    def is_snapshot(self) -> bool:
        """Whether this is an iterator's immutable snapshot (see :meth:`snapshot`)."""
        return self.__dict__.get("_frozen", False)

    # Properties of the reference.

    @property
    def sample_rate_hz(self) -> int:
        """The frontend's sample rate: every clip is resampled to it.

        Settable, as the reference's dataset mixin does: it sets
        ``frontend_settings.sample_rate_hz``.
        """
        return self.frontend_settings.sample_rate_hz

    @sample_rate_hz.setter
    def sample_rate_hz(self, value: int) -> None:
        self.frontend_settings.sample_rate_hz = value

    @property
    def sample_length_ms(self) -> int:
        """Length of a sample in milliseconds (settable: it sets the frontend setting)."""
        return self.frontend_settings.sample_length_ms

    @sample_length_ms.setter
    def sample_length_ms(self, value: int) -> None:
        self.frontend_settings.sample_length_ms = value

    @property
    def sample_length(self) -> int:
        """Length of a sample in audio samples."""
        return self.frontend_settings.sample_length

    @sample_length.setter
    def sample_length(self, value: int) -> None:
        raise AttributeError(
            "sample_length is computed from the frontend settings; set sample_length_ms"
        )

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """Shape of one sample as the reference gives it.

        ``(frames, channels)`` with the frontend on, without the channel axis that
        ``add_channel_dimension`` adds to batches (the iterator's
        ``process_params.sample_shape`` has it); ``sample_shape`` as given with the frontend
        off.
        """
        if self.frontend_enabled:
            return self.frontend_settings.spectrogram_shape
        return self._sample_shape

    @sample_shape.setter
    def sample_shape(self, value: tuple[int, ...]) -> None:
        if self.frontend_enabled:
            raise AttributeError(
                "sample_shape is computed from the frontend settings while frontend_enabled "
                "is True; change the frontend settings instead"
            )
        self._sample_shape = check_sample_shape("sample_shape", value)

    @property
    def frontend_output_dtype(self) -> str:
        """The frontend's output dtype, before standardization.

        ``frontend_dtype``, else ``dtype`` when the frontend can produce it, else float32.
        """
        if self.frontend_dtype is not None:
            return self.frontend_dtype.name
        return self.dtype.name if self.dtype.name in FRONTEND_DTYPES else "float32"

    @property
    def default_transform(self) -> dict[str, Any]:
        """The transform of a sample that is not augmented: at offset 0, unchanged.

        The reference's keys (``offset_percentage``, ``loudness_factor``, ``noise_color``,
        ``noise_color_factor``, ``bg_noise``, ``bg_noise_factor``, ``speed_factor``,
        ``pitch_factor``, ``vtlp_factor``) plus where the noise crops start
        (``noise_position``, ``bg_noise_position``, fractions) and the seed of the
        ``augmentations`` transforms (see :class:`~parallel_audio.augment.AugmentationTransform`).
        ``pitch_factor`` is in semitones (0 is no shift). ``noise_color`` None (or the
        reference's ``"none"``) is no colored noise.
        """
        return AugmentationTransform().to_dict()

    # The pipeline's steps, as the reference offers them.

    def get_random_transform(
        self, rng: np.random.Generator | None = None, *, silence: bool = False
    ) -> dict[str, Any]:
        """Draw one sample's augmentation parameters (see :attr:`default_transform`).

        When both colored and background noise are configured, each sample gets one of
        them, with equal probability. A ``_silence_`` sample (``silence=True``) gets noise
        only: background noise when there is some, else colored noise. See
        :class:`~parallel_audio.augment.AugmentationPolicy`.

        Parameters
        ----------
        rng : numpy.random.Generator, optional
            The sample's generator; the pipeline passes one derived from (seed, epoch,
            sample id). Without it a fresh, unseeded generator is used.
        silence : bool
            Draw for a ``_silence_`` sample.

        Returns
        -------
        dict
        """
        rng = rng if rng is not None else np.random.default_rng()
        return self._runtime().random_transform(rng, silence=silence).to_dict()

    def _cache(self) -> RuntimeCache:
        cache = self.__dict__.get("_runtime_cache")
        if cache is None:
            cache = RuntimeCache()
            object.__setattr__(self, "_runtime_cache", cache)
        return cache

    def _runtime(self) -> SampleRuntime:
        """Return the runtime of the generator's own methods, for its configuration now.

        Its policy is built afresh on every call of a live generator, so nothing drawn or
        applied is stale after a parameter (or the frontend's sample rate) changes, and the
        frontend and background noise are built again when their settings change; a
        snapshot, which cannot change, builds it once. Iterators never use it: each builds
        its own.
        """
        runtime = self.__dict__.get("_snapshot_runtime")
        if runtime is None:
            runtime = SampleRuntime.build(self, self._dataset_directory, cache=self._cache())
            if self.is_snapshot:
                object.__setattr__(self, "_snapshot_runtime", runtime)
        return runtime

    @property
    def bg_noises(self) -> dict[str, np.ndarray] | None:
        """Background noise by name, as the generator's own methods use it.

        The reference's attribute (MLTK's code reads ``params.audio_data_generator.bg_noises``):
        the files of ``bg_noise_dir`` at the current sample rate, the folder taken relative to
        the last ``flow_from_directory``'s dataset when it is not one of its own. None before
        any ``flow_from_directory``, or without ``bg_noise_dir``. Read-only; iterators read
        their own.
        """
        if self.bg_noise_dir is None or self._dataset_directory is None:
            return None
        folder = background_noise_folder(self.bg_noise_dir, self._dataset_directory)
        return self._cache().background_noise(folder, self.sample_rate_hz)

    def adjust_length(
        self,
        sample: np.ndarray,
        orignal_sr: int,
        offset: float = 0.0,
        whole_sample: bool = False,
        out_length: int | None = None,
    ) -> np.ndarray:
        """Resample to the frontend's rate, then pad or crop to the sample length.

        Parameters
        ----------
        sample : numpy.ndarray, shape (n,)
            float32 audio at ``orignal_sr`` (the reference's spelling).
        orignal_sr : int
            Its sample rate.
        offset : float
            Where it sits in the padded result, see :func:`fit_to_length`.
        whole_sample : bool
            Resample only; keep the length.
        out_length : int, optional
            Length to return instead of the sample length.
        """
        sample = resample(sample, orignal_sr, self.sample_rate_hz)
        if whole_sample:
            return sample
        return fit_to_length(sample, out_length or self.sample_length, offset)

    def apply_transform(
        self,
        sample: np.ndarray,
        orignal_sr: int,
        params: dict[str, Any] | AugmentationTransform,
        whole_sample: bool = False,
    ) -> np.ndarray:
        """Trim, change speed, pitch and VTLP, place at the offset, set loudness, add noise.

        In that order (the order of the design): resample to the frontend's rate, trim
        silence, speed / pitch / VTLP in one pass, pad or crop to the sample length at
        ``offset_percentage``, multiply by ``loudness_factor``, add the colored or
        background noise, then apply the ``augmentations`` transforms. Unless
        ``whole_sample``, a trimmed clip longer than
        :func:`~parallel_audio.augment.vocoder.stretch_input_length` is first cropped to it at
        ``offset_percentage``: the speed, pitch and VTLP pass then costs what the sample
        uses, whatever the clip's length.

        Parameters
        ----------
        sample : numpy.ndarray, shape (n,)
            float32 audio at ``orignal_sr``.
        orignal_sr : int
            Its sample rate.
        params : dict or AugmentationTransform
            From :meth:`get_random_transform` or :attr:`default_transform`; missing keys
            take their default and keys of other meaning are ignored. ``noise_color`` may
            name any color (white, pink, brown, blue, violet, in any case), configured or
            not; None or ``"none"`` adds no colored noise, as in the reference.
        whole_sample : bool
            As the reference: resample only, keeping the clip's whole length (no trimming,
            no padding or cropping to the sample length).

        Returns
        -------
        numpy.ndarray of float32
        """
        if not isinstance(params, AugmentationTransform):
            params = AugmentationTransform.from_dict(params)
        return self._runtime().apply_transform(
            sample, orignal_sr, params, whole_sample=whole_sample
        )

    def apply_frontend(self, sample: np.ndarray, dtype: Any = np.float32) -> np.ndarray:
        """Return the spectrogram of one sample, (frames, channels), in ``dtype``.

        Computed with the frontend settings as they are now: a change to them since the
        last call builds the frontend again (and is checked then).
        """
        frontend = self._cache().frontend(self.frontend_settings)
        return frontend.process_sample(sample, dtype=dtype)

    def standardize(self, sample: np.ndarray) -> np.ndarray:
        """Apply rescale, samplewise centering, std normalization and range scaling.

        In that order, in float64, then converted to ``dtype``, clipped to its range (rounded
        first for an integer ``dtype``). Without any of them the sample is only converted (a
        uint16 or int8 spectrogram keeps its values, where ``dtype`` can hold them).
        """
        normalize = (
            self.rescale is not None
            or self.samplewise_center
            or self.samplewise_std_normalization
            or self.samplewise_normalize_range
        )
        if not normalize:
            return self._to_dtype(sample)
        x = sample.astype(np.float64)
        if self.rescale is not None:
            x *= self.rescale
        if self.samplewise_center:
            x -= np.mean(x, keepdims=True)
        if self.samplewise_std_normalization:
            x /= np.std(x, keepdims=True) + 1e-6
        if self.samplewise_normalize_range is not None:
            low, high = self.samplewise_normalize_range
            span = np.ptp(x)
            x = (high - low) * (x - np.min(x)) / (span if span > 0 else 1) + low
        return self._to_dtype(x)

    def _to_dtype(self, x: np.ndarray) -> np.ndarray:
        """Convert to ``dtype``, clipping to its range (a cast would wrap or overflow)."""
        target = np.dtype(self.dtype)
        if target == x.dtype:
            return x
        if target.kind in "iu":
            info = np.iinfo(target)
        elif target.kind == "f":
            info = np.finfo(target)
        else:
            return x.astype(target)
        if np.can_cast(x.dtype, target, casting="safe"):
            return x.astype(target)
        if x.dtype.kind == "f" and target.kind in "iu":
            x = np.rint(x)
        return np.clip(x, info.min, info.max).astype(target)

    def flow_from_directory(
        self,
        directory: str | os.PathLike,
        classes: Sequence[str],
        class_mode: str | None = "categorical",
        batch_size: int = 32,
        shuffle: bool = True,
        shuffle_index_dir: str | os.PathLike | None = None,
        seed: int | None = None,
        follow_links: bool = False,
        subset: str | None = None,
        max_samples_per_class: int = -1,
        list_valid_filenames_in_directory_function: Callable | None = None,
        class_counts: dict[str, int] | None = None,
        on_error: str = "raise",
        last_batch: str = "short",
        executor: Executor | None = None,
        fold: int | None = None,
        num_folds: int | None = None,
        fold_strategy: str = "hash",
        fold_seed: int | None = None,
        sampling: Any = None,
        samples_per_epoch: int | None = None,
        cache_dir: str | os.PathLike | None = None,
        cache: str = "auto",
        cache_dtype: str = "float32",
        cache_validate: str = "stat",
        **kwargs: Any,
    ) -> ParallelAudioIterator:
        """List a directory of class folders and return the batch iterator for ``model.fit``.

        Parameters
        ----------
        directory : str or os.PathLike
            One sub-folder per class.
        classes : list of str
            The classes, in label order; ``_unknown_`` and ``_silence_`` add pseudo-classes.
        class_mode : {"categorical", "binary", "sparse", "input", None}
            Labels: one-hot, class ids (binary, sparse), the samples themselves, or none.
        batch_size : int
            Samples per batch, at most 65536; -1 for the whole dataset in one batch.
        shuffle : bool
            Visit samples in a fresh seeded order every epoch (else in index order).
        shuffle_index_dir : str, optional
            Where the shuffled per-class file order is written once and reused. What is
            there is read only if it is a regular file no larger than the class's list;
            anything else (a FIFO, a link to a device) is replaced, with a warning.
        seed : int, optional
            Seeds the file order, the epoch orders and every sample's augmentation, in
            [0, 2**128 - 1]. None draws one; the iterator's ``seed`` attribute tells which, to
            repeat a run.
        follow_links : bool
            Follow symbolic links to directories.
        subset : {"training", "validation", "test"}, optional
            Which side of ``validation_split`` (or of the folds), or the ``test_split``.
        max_samples_per_class : int
            Cap per real class; -1 for all.
        list_valid_filenames_in_directory_function : callable, optional
            Replaces the listing of one class's files (the reference's signature).
        class_counts : dict, optional
            Filled with the number of samples of each class.
        on_error : {"raise", "skip"}
            What a file that cannot be used does (empty, not audio, damaged, NaN or infinite
            values, a broken or looping symlink, no permission). "raise" (default): files
            are listed without being opened, and the batch that holds such a file fails
            with an ``AudioFileError`` naming it and the problem (with worker processes, as
            the cause of the ``WorkerError``); a folder that cannot be listed raises a
            ``DatasetError`` here. "skip": every file the index would hold is decoded once,
            here, with the pipeline's checks (about 0.1 ms per second of audio; a progress
            bar from 2000 files); failing files and unlistable folders are left out with one
            ``SkippedFilesWarning``, listed with their reason in the iterator's
            ``skipped_files``, and replaced by the class's next readable file.
        last_batch : {"short", "repeat"}
            When ``batch_size`` does not divide the number of samples: "short" (default)
            ends each epoch with a smaller batch of the samples left; "repeat" fills that
            batch up to ``batch_size`` with the first samples of the epoch's order, as MLTK
            does (MLTK takes the first files of its unshuffled index), each drawing a fresh
            augmentation from its own seed, the same whatever ``cores``. Every batch then has
            the same size; the repeated samples count twice in ``evaluate``.
        executor : Executor, optional
            What computes the batches: None (default) for this machine's workers, as
            ``cores`` and ``debug`` say; :class:`parallel_audio.ray.RayExecutor` for Ray
            actors on the nodes of a Ray cluster (the same batches, bit for bit; see the
            README, "More than one machine"). A ``RayExecutor`` is a template: the iterator,
            and each of its shards, starts its own actors from it. Every ``flow_*`` method
            takes it as a keyword.
        fold, num_folds : int, optional
            Grouped k-fold cross-validation: ``subset="validation"`` is fold ``fold`` of
            ``num_folds`` and ``"training"`` the other folds, over the same groups as
            ``validation_split`` (which must be 0). The test groups of ``test_split`` are in
            no fold.
        fold_strategy : {"hash", "balanced", "stratified"}
            How groups are dealt to folds: by their hash (fold 0 of 5 is
            ``validation_split=0.2``'s validation set; adding files moves no group), to the
            fold with the fewest files (scikit-learn's ``GroupKFold``), or keeping each fold's
            class shares even (``StratifiedGroupKFold``). See :mod:`parallel_audio.splits`.
        fold_seed : int, optional
            Another partition into folds, for repeated cross-validation; None is the default.
        sampling : None, "balanced", dict or sequence of float
            Which samples each epoch holds (see :mod:`parallel_audio.sampling`). None: each
            sample once (``samples_per_epoch`` aside). ``"balanced"``: an equal share of every
            epoch per class (``_unknown_`` and ``_silence_`` their percentage of it), each
            class drawn without replacement in cycles of fresh permutations, so every file of
            a small class is used before any repeats. ``{class: weight}``: each sample of a
            class weighs ``weight`` (1 for classes left out), as if its files were copied that
            many times; or one weight per sample, in the iterator's ``filenames`` order:
            independent draws with replacement, a zero weight never drawn. The epoch is drawn
            in the training process from ``(seed, epoch)``, so batches do not depend on
            ``cores``; a sample drawn twice is augmented differently each time (its first
            occurrence keeps its stream without sampling). Needs ``shuffle=True``.
        samples_per_epoch : int, optional
            Samples per epoch (``len(iterator)`` is that many in batches), from 1 to 2**30;
            None is the subset's size. Without ``sampling``, epochs cycle through the samples
            in fresh orders, every sample before any repeats.
        cache_dir : str or os.PathLike, optional
            A folder for a disk cache of the dataset (see the README's "Disk cache"): built
            here, by the workers, before the iterator is returned (only the files missing or
            changed since the last run are decoded), then read by the workers from
            memory-mapped files. None (default): no cache.
        cache : {"auto", "audio", "features"}
            What is cached. "audio": every file decoded, mono, at the frontend's rate, before
            any callback (batches are the same bit for bit as uncached). "features": the final
            sample of each file; only where no random transform runs (validation with
            ``validation_augmentation_enabled=False``, or ``disable_random_transforms``) and
            no callback is set, else a ``SettingsError``. "auto" (default): "features" where
            allowed, else "audio".
        cache_dtype : {"float32", "int16"}
            How cached audio is stored: "float32" (default) keeps batches bit for bit as
            uncached; "int16" halves the disk (a ``CacheWarning`` counts the files it clips).
        cache_validate : {"stat", "content", "none"}
            How a cached file is known unchanged: its size and modification time ("stat",
            default), also a hash of its bytes ("content", which reads every file), or not at
            all ("none").
        **kwargs
            The reference's image options are accepted and ignored: ``target_size`` (which
            the reference's dataset mixin always passes) silently, others with a warning.

        Returns
        -------
        ParallelAudioIterator
        """
        from parallel_audio.dataset_index import build_index

        def list_directory(
            configuration: ParallelAudioDataGenerator, seed: int, file_check: Any
        ) -> Any:
            return build_index(
                directory,
                list(classes),
                subset=subset,
                validation_split=configuration.validation_split,
                seed=seed,
                follow_links=follow_links,
                max_samples_per_class=max_samples_per_class,
                unknown_class_percentage=configuration.unknown_class_percentage,
                silence_class_percentage=configuration.silence_class_percentage,
                shuffle_index_dir=None
                if shuffle_index_dir is None
                else os.fspath(shuffle_index_dir),
                list_valid_filenames_in_directory_function=(
                    list_valid_filenames_in_directory_function
                ),
                class_counts=class_counts,
                on_error=on_error,
                sample_rate_hz=configuration.sample_rate_hz,
                test_split=configuration.test_split,
                fold=fold,
                num_folds=num_folds,
                fold_strategy=fold_strategy,
                fold_seed=fold_seed,
                file_check=file_check,
            )

        directory = os.fspath(directory)
        return self._flow(
            "flow_from_directory",
            directory,
            list_directory,
            class_mode=class_mode,
            batch_size=batch_size,
            shuffle=shuffle,
            seed=seed,
            subset=subset,
            last_batch=last_batch,
            kwargs={**kwargs, "executor": executor},
            sampling=sampling,
            samples_per_epoch=samples_per_epoch,
            cache=_CacheArguments(cache_dir, cache, cache_dtype, cache_validate),
        )

    def _flow(
        self,
        method: str,
        directory: str,
        build: Callable[[ParallelAudioDataGenerator, int, Any], Any],
        *,
        class_mode: str | None,
        batch_size: int,
        shuffle: bool,
        seed: int | None,
        subset: str | None,
        last_batch: str,
        kwargs: dict[str, Any],
        class_modes: Sequence[str | None] | None = None,
        clips: Any = None,
        pair_transforms: str = "geometric",
        target_frontend: bool = False,
        sampling: Any = None,
        samples_per_epoch: int | None = None,
        cache: _CacheArguments | None = None,
        windows: bool = False,
    ) -> ParallelAudioIterator:
        """Check the arguments every ``flow_*`` shares, build the index, return the iterator.

        ``build(configuration, seed, file_check)`` builds the dataset index from the
        iterator's frozen configuration (``file_check``: the disk cache's check of files for
        ``on_error="skip"``, None without a cache); ``directory`` is where relative paths
        (and a relative ``bg_noise_dir``) are found. ``cache``: the ``flow_*`` method's cache
        arguments (None: the method has no files to cache). ``windows``: the samples are
        windows of long files (``flow_from_annotations``): ``build`` returns a
        :class:`~parallel_audio.window_index.WindowIndex`, the iterator's configuration does
        not trim silence (which would move the audio under the windows' labels), and the
        cache holds the decoded files whose windows it can slice.
        """
        from parallel_audio.worker_start import prepare_worker_processes

        # First of all: the fork server then imports the pipeline while this process does
        # everything else (importing Keras with the iterator, listing the dataset, ...).
        prepare_worker_processes(self)
        from parallel_audio.cache import files_to_cache, open_cache, resolve_cache_options
        from parallel_audio.iterator import ParallelAudioIterator

        batch_size = check_flow_arguments(
            class_mode=class_mode,
            batch_size=batch_size,
            shuffle=shuffle,
            last_batch=last_batch,
            seed=seed,
            class_modes=class_modes,
        )
        kwargs = dict(kwargs)
        executor = check_executor("executor", kwargs.pop("executor", None))
        # flow, flow_from_dataframe and flow_from_manifest take these as keywords.
        sampling = kwargs.pop("sampling", sampling)
        samples_per_epoch = kwargs.pop("samples_per_epoch", samples_per_epoch)
        ignored = sorted(set(kwargs) - SILENTLY_IGNORED_KEYWORDS)
        if ignored:
            warn_at_caller(f"{method} ignores {', '.join(ignored)}")
        if seed is None:
            seed = secrets.randbits(32)
        # The iterator keeps the configuration of this moment, whatever changes later, and
        # builds what it needs for this dataset (before listing it: a missing background
        # folder fails at once).
        configuration = self.snapshot()
        object.__setattr__(configuration, "_dataset_directory", directory)
        if windows and configuration.trim_threshold_db:
            _warn_trim_off_once()
            # Trimming would move the audio under the events: windows keep their span.
            object.__setattr__(configuration, "trim_threshold_db", None)
        runtime = SampleRuntime.build(configuration, directory)
        try:
            cache_options = None
            if cache is not None:
                cache_options = resolve_cache_options(
                    *cache,
                    configuration=configuration,
                    subset=subset,
                    pairs=class_mode in ("audio", "denoise"),  # pairs.PAIR_CLASS_MODES
                    windows=windows,
                )
            # The generator's own methods follow this dataset's background noise from now on.
            self._dataset_directory = directory
            with contextlib.ExitStack() as holding:
                cache_build = None
                if cache_options is not None:  # locked from here until its files are cached
                    cache_build = holding.enter_context(
                        open_cache(
                            cache_options,
                            configuration,
                            runtime,
                            directory=directory,
                            subset=subset,
                        )
                    )
                built = build(
                    configuration, seed, None if cache_build is None else cache_build.check
                )
                index, windowing, window_table = built, None, None
                if windows:  # a WindowIndex: the index, the workers' plan and the windows' table
                    index, windowing, window_table = built.index, built.plan, built.windows
                sample_cache = None
                if cache_build is not None:
                    cached_files = (
                        built.sliceable_files
                        if windows
                        else files_to_cache(index, cache_build.options.kind)
                    )
                    sample_cache = cache_build.finish(cached_files)
            return ParallelAudioIterator(
                configuration,
                index,
                runtime=runtime,
                sample_cache=sample_cache,
                class_mode=class_mode,
                batch_size=batch_size,
                shuffle=shuffle,
                seed=seed,
                subset=subset,
                last_batch=last_batch,
                clips=clips,
                pair_transforms=pair_transforms,
                target_frontend=target_frontend,
                executor=executor,
                sampling=sampling,
                samples_per_epoch=samples_per_epoch,
                windowing=windowing,
                windows=window_table,
            )
        except BaseException:
            runtime.release_unheld()  # no iterator took it: its shared noise goes now
            raise

    def flow(
        self,
        x: np.ndarray | Sequence[np.ndarray],
        y: np.ndarray | None = None,
        sample_weight: np.ndarray | None = None,
        sample_rate: int | None = None,
        groups: Sequence[Any] | None = None,
        batch_size: int = 32,
        shuffle: bool = True,
        seed: int | None = None,
        subset: str | None = None,
        last_batch: str = "short",
        fold: int | None = None,
        num_folds: int | None = None,
        fold_strategy: str = "hash",
        fold_seed: int | None = None,
        **kwargs: Any,
    ) -> ParallelAudioIterator:
        """Return the batch iterator of clips already in memory, as Keras' ``flow``.

        The clips are copied once, as float32, into memory the worker processes map
        read-only: every worker reads the same pages, and a batch task names clips by
        number (nothing is pickled per batch or copied per worker). The memory has no name
        in any file system (nothing in ``/dev/shm``) and is released when the iterator is
        closed or collected. Each clip is then resampled, augmented and featurized as a file
        would be: a clip equals the same clip written as a float WAV file.

        Parameters
        ----------
        x : numpy.ndarray or list of numpy.ndarray
            A 2-D float array of equal-length clips (one per row), or a list of 1-D float
            arrays of any lengths; mono, full scale 1.0, finite.
        y : numpy.ndarray, optional
            Class ids (1-D ints: labels as class ids, ``(batch,)``) or one-hot or multi-hot
            rows (2-D: ``(batch, classes)``), one per clip; returned in ``dtype``. None: the
            batches are ``x`` alone.
        sample_weight : numpy.ndarray, optional
            One finite weight >= 0 per clip: batches become ``(x, y, sample_weight)``.
        sample_rate : int, optional
            The clips' rate in Hz; default the frontend's (no resampling).
        groups : sequence, optional
            One group per clip (speaker, session) that the validation split, the test split
            and the folds keep on one side (dealt as files' speakers are); default each clip
            its own group, named by its position in ``x`` (``"0"``, ``"1"``, ...), so a
            clip's side depends on its position only.
        batch_size, shuffle, seed, subset, last_batch
            As in :meth:`flow_from_directory`; ``subset="test"`` needs the generator's
            ``test_split``. A class of ``y`` (class ids, or one-hot rows) with no clip in the
            subset is an error naming it.
        fold, num_folds, fold_strategy, fold_seed
            Grouped k-fold over ``groups``, as in :meth:`flow_from_directory`
            (``"stratified"`` stratifies by class id or one-hot class).
        **kwargs
            ``sampling``, ``samples_per_epoch`` and ``executor``, as ``flow_from_directory``
            takes them. Keras' image options are accepted and ignored with a warning.

        Returns
        -------
        ParallelAudioIterator
        """
        from parallel_audio.array_index import build_array_index
        from parallel_audio.clip_store import ClipStore

        rate = self.sample_rate_hz if sample_rate is None else sample_rate
        if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)) or rate < 1:
            raise SettingsError(f"sample_rate must be an int >= 1 (Hz) or None, got {rate!r}")
        clips = ClipStore(x, int(rate))
        try:
            class_mode = None if y is None else ("sparse" if np.ndim(y) == 1 else "categorical")
            directory = os.getcwd()

            def index_clips(
                configuration: ParallelAudioDataGenerator, seed: int, file_check: Any
            ) -> Any:
                return build_array_index(
                    len(clips),
                    y,
                    sample_weight,
                    groups,
                    directory=directory,
                    subset=subset,
                    validation_split=configuration.validation_split,
                    test_split=configuration.test_split,
                    fold=fold,
                    num_folds=num_folds,
                    fold_strategy=fold_strategy,
                    fold_seed=fold_seed,
                )

            return self._flow(
                "flow",
                directory,
                index_clips,
                class_mode=class_mode,
                batch_size=batch_size,
                shuffle=shuffle,
                seed=seed,
                subset=subset,
                last_batch=last_batch,
                kwargs=kwargs,
                clips=clips,
            )
        except BaseException:
            clips.close()
            raise

    def flow_from_dataframe(
        self,
        dataframe: Any,
        directory: str | os.PathLike | None = None,
        x_col: str = "filename",
        y_col: str | Sequence[str] | None = "class",
        weight_col: str | None = None,
        group_col: str | None = None,
        start_col: str | None = None,
        end_col: str | None = None,
        target_col: str | None = None,
        classes: Sequence[str] | None = None,
        class_mode: str | None = "categorical",
        label_sep: str | None = None,
        unknown_labels: str = "raise",
        batch_size: int = 32,
        shuffle: bool = True,
        seed: int | None = None,
        subset: str | None = None,
        on_error: str = "raise",
        last_batch: str = "short",
        pair_transforms: str = "geometric",
        target_frontend: bool = False,
        cache_dir: str | os.PathLike | None = None,
        cache: str = "auto",
        cache_dtype: str = "float32",
        cache_validate: str = "stat",
        fold: int | None = None,
        num_folds: int | None = None,
        fold_strategy: str = "hash",
        fold_seed: int | None = None,
        **kwargs: Any,
    ) -> ParallelAudioIterator:
        """Return the batch iterator of a table of files and labels, in Keras' idiom.

        The rows become the same dataset index ``flow_from_directory`` builds: batches,
        epochs, per-sample randomness, workers and errors behave alike, and a table listing
        a directory iterator's files and classes in its order gives its batches bit for bit.

        Parameters
        ----------
        dataframe : pandas.DataFrame or iterable of mappings
            One row per sample (pandas is optional: a list of dicts works).
        directory : str or os.PathLike, optional
            Paths of ``x_col`` are relative to it. None: they are absolute (a relative one is
            taken from the working directory at this call).
        x_col : str
            The column of file paths.
        y_col : str or list of str, optional
            The label column; for ``class_mode="raw"`` one or more columns of numbers.
        weight_col : str, optional
            Sample weights (finite, >= 0): batches become ``(x, y, sample_weight)``.
        group_col : str, optional
            The group (speaker, session, recording) the validation split, the test split
            and the folds keep on one side. Default: the speaker rule of
            ``flow_from_directory`` on the file name (``<speaker>_nohash_<n>.wav`` belongs
            to the speaker, any other file to its own stem), so a table of a directory's
            files splits as the directory does.
        start_col, end_col : str, optional
            The sample is the region of the file between these times in seconds: only that
            span is read (soundfile's seek), then it is trimmed, padded and augmented as a
            whole file is. A missing start is 0, a missing end the file's end.
        target_col : str, optional
            With ``class_mode="audio"``: each row's target file (same duration as its
            input, same region), for denoising, enhancement and autoencoders.
        classes : list of str, optional
            Class names in label order, optionally with ``_unknown_`` and ``_silence_``
            (single-label modes), which work as in ``flow_from_directory``: rows of labels
            not listed feed ``_unknown_``. None: the sorted unique labels.
        class_mode : {"categorical", "multi_label", "binary", "sparse", "raw", "input", \
"audio", "denoise", None}
            "categorical": one-hot rows, or multi-hot rows when cells hold lists or
            ``label_sep`` splits them; "multi_label": always multi-hot (float; an empty list
            is an all-negative row); "binary": exactly two classes, ids 0/1; "sparse":
            class ids; "raw": the float values of ``y_col`` (shape (batch,) for one column,
            (batch, k) for a list); "input": the samples themselves; "audio": the
            ``target_col`` file, augmented with the input (see ``pair_transforms``);
            "denoise": the input's own clip before its noise; None: no labels.
        label_sep : str, optional
            Separator of several labels in one string cell ("dog|bark").
        unknown_labels : {"raise", "drop"}
            Labels not in ``classes`` when ``_unknown_`` is not listed: an error with the
            count and the first rows, or left out with a warning.
        batch_size, shuffle, seed, subset, last_batch
            As in :meth:`flow_from_directory` (``subset="test"`` with the generator's
            ``test_split``). The split deals each row's group and never depends on the
            row's position.
        on_error : {"raise", "skip"}
            As in :meth:`flow_from_directory`; "skip" checks each row's file (its region only).
        pair_transforms : {"geometric", "all", "input"}
            For "audio" and "denoise": "geometric" applies offset, speed, pitch, VTLP and the
            loudness gain to both clips, colored and background noise, ``augmentations``
            and ``preprocessing_function`` to the input only; "all" applies everything to
            both; "input" leaves the target as decoded, fitted to the sample length. Both
            clips are cut on the silence bounds found on the input. A pair whose lengths
            differ once resampled raises an ``AudioFileError`` naming both files.
        target_frontend : bool
            For "audio" and "denoise": the target as a spectrogram (frontend, standardize,
            channel axis, as the input) instead of its float32 waveform.
        cache_dir, cache, cache_dtype, cache_validate
            The disk cache, as in :meth:`flow_from_directory`; its files are the table's
            (input and target files). A row's region is sliced out of the cached whole file
            where that gives the same samples bit for bit: a PCM or FLAC file at the
            frontend's rate. Other regions (a file at another rate is resampled alone; a seek
            in MP3 or Ogg decodes differently) are read from the file, uncached: correct, but
            nothing gained. "features" holds only rows without a region, and is refused for
            "audio" and "denoise" pairs.
        fold, num_folds, fold_strategy, fold_seed
            Grouped k-fold over the rows' groups, as in :meth:`flow_from_directory`: the
            same rows give the same folds as a DataFrame, a manifest or a directory. The
            ``"balanced"`` and ``"stratified"`` strategies deal the groups of the rows of
            listed classes (multi-hot, raw and unlabeled rows count as one class).
        **kwargs
            ``sampling``, ``samples_per_epoch`` and ``executor``, as ``flow_from_directory``
            takes them. Keras' image options are accepted and ignored with a warning.

        Returns
        -------
        ParallelAudioIterator

        Raises
        ------
        DatasetError
            Before any batch, for anything wrong in the table, naming the column and the
            rows: a missing column (listing those there are), a path that is not a string,
            an end at or before its start, a negative start, labels not in ``classes``,
            non-finite or negative weights, "binary" with other than two classes; a listed
            class without rows in the subset (naming the split or fold), fewer groups than
            folds, ``fold`` without ``num_folds``, ``validation_split`` with ``num_folds``.
        """
        return self._flow_from_table(
            dataframe,
            "dataframe",
            "flow_from_dataframe",
            directory=directory,
            x_col=x_col,
            y_col=y_col,
            weight_col=weight_col,
            group_col=group_col,
            start_col=start_col,
            end_col=end_col,
            target_col=target_col,
            classes=classes,
            class_mode=class_mode,
            label_sep=label_sep,
            unknown_labels=unknown_labels,
            batch_size=batch_size,
            shuffle=shuffle,
            seed=seed,
            subset=subset,
            on_error=on_error,
            last_batch=last_batch,
            pair_transforms=pair_transforms,
            target_frontend=target_frontend,
            cache_dir=cache_dir,
            cache=cache,
            cache_dtype=cache_dtype,
            cache_validate=cache_validate,
            fold=fold,
            num_folds=num_folds,
            fold_strategy=fold_strategy,
            fold_seed=fold_seed,
            kwargs=kwargs,
        )

    def flow_from_manifest(
        self,
        path: str | os.PathLike,
        directory: str | os.PathLike | None = None,
        sep: str | None = None,
        **kwargs: Any,
    ) -> ParallelAudioIterator:
        """Return the batch iterator of a manifest file: CSV, TSV or JSON lines.

        The manifest is read with the standard library (:func:`~parallel_audio.manifest.
        read_manifest`), then its rows work as :meth:`flow_from_dataframe`'s, with the same
        keywords and defaults. NeMo's manifests work as they are: with an
        ``audio_filepath`` key, ``x_col`` defaults to it and ``y_col`` to ``"label"``, and
        ``offset``/``duration`` (seconds) become the region of the file each row is.

        Parameters
        ----------
        path : str or os.PathLike
            The manifest: ``.csv`` comma-separated, ``.tsv``/``.tab`` tab-separated,
            ``.json``/``.jsonl``/``.ndjson`` JSON lines (another extension: JSON lines when
            its first character is ``{``, else CSV); UTF-8.
        directory : str or os.PathLike, optional
            Relative paths in the manifest are relative to it; default the manifest's own
            folder (absolute paths stay as they are).
        sep : str, optional
            One character: read the file as delimited text with it, whatever its extension.
        **kwargs
            :meth:`flow_from_dataframe`'s keywords (``x_col``, ``y_col``, ``classes``,
            ``class_mode``, ``weight_col``, ``group_col``, ``start_col``, ``end_col``,
            ``batch_size``, ``seed``, ``subset``, ``fold``, ``num_folds``, ...).

        Returns
        -------
        ParallelAudioIterator

        Raises
        ------
        DatasetError
            Naming the manifest and the line for a file that cannot be read or parsed, and
            the column and lines for anything :meth:`flow_from_dataframe` refuses.
        """
        import inspect

        from parallel_audio.manifest import read_manifest

        manifest = read_manifest(path, sep)
        signature = inspect.signature(ParallelAudioDataGenerator.flow_from_dataframe)
        options = {
            name: parameter.default
            for name, parameter in signature.parameters.items()
            if parameter.default is not inspect.Parameter.empty and name != "directory"
        }
        options.update(manifest.default_columns())
        for name in list(kwargs):
            if name in options:
                options[name] = kwargs.pop(name)
        if directory is None:
            directory = os.path.dirname(os.path.abspath(manifest.path))
        return self._flow_from_table(
            manifest.rows,
            f"manifest {manifest.path!r}",
            "flow_from_manifest",
            directory=directory,
            row_names=manifest.lines,
            kwargs=kwargs,
            **options,
        )

    def _flow_from_table(
        self,
        table: Any,
        source: str,
        method: str,
        *,
        directory: str | os.PathLike | None,
        x_col: str,
        y_col: str | Sequence[str] | None,
        weight_col: str | None,
        group_col: str | None,
        start_col: str | None,
        end_col: str | None,
        target_col: str | None,
        classes: Sequence[str] | None,
        class_mode: str | None,
        label_sep: str | None,
        unknown_labels: str,
        batch_size: int,
        shuffle: bool,
        seed: int | None,
        subset: str | None,
        on_error: str,
        last_batch: str,
        pair_transforms: str,
        target_frontend: bool,
        cache_dir: str | os.PathLike | None,
        cache: str,
        cache_dtype: str,
        cache_validate: str,
        fold: int | None,
        num_folds: int | None,
        fold_strategy: str,
        fold_seed: int | None,
        kwargs: dict[str, Any],
        row_names: Sequence[Any] | None = None,
    ) -> ParallelAudioIterator:
        """Build the iterator of a table's rows (``source`` names it in messages)."""
        from parallel_audio.pairs import PAIR_TRANSFORMS
        from parallel_audio.table_index import TABLE_CLASS_MODES, TableColumns, build_table_index

        check_choice("pair_transforms", pair_transforms, PAIR_TRANSFORMS)
        check_bool("target_frontend", target_frontend)
        if target_frontend and not self.frontend_enabled:
            raise SettingsError(
                "target_frontend=True asks for the target's spectrogram, but the generator has "
                "frontend_enabled=False; its targets are waveforms"
            )

        columns = TableColumns(
            x_col=x_col,
            y_col=y_col if y_col is None or isinstance(y_col, str) else list(y_col),
            weight_col=weight_col,
            group_col=group_col,
            start_col=start_col,
            end_col=end_col,
            target_col=target_col,
        )
        root = os.getcwd() if directory is None else os.fspath(directory)

        def read_table(
            configuration: ParallelAudioDataGenerator, seed: int, file_check: Any
        ) -> Any:
            return build_table_index(
                table,
                columns,
                directory=root,
                classes=classes,
                class_mode=class_mode,
                label_sep=label_sep,
                unknown_labels=unknown_labels,
                subset=subset,
                validation_split=configuration.validation_split,
                seed=seed,
                unknown_class_percentage=configuration.unknown_class_percentage,
                silence_class_percentage=configuration.silence_class_percentage,
                on_error=on_error,
                sample_rate_hz=configuration.sample_rate_hz,
                source=source,
                row_names=row_names,
                file_check=file_check,
                test_split=configuration.test_split,
                fold=fold,
                num_folds=num_folds,
                fold_strategy=fold_strategy,
                fold_seed=fold_seed,
            )

        return self._flow(
            method,
            root,
            read_table,
            class_mode=class_mode,
            batch_size=batch_size,
            shuffle=shuffle,
            seed=seed,
            subset=subset,
            last_batch=last_batch,
            kwargs=kwargs,
            class_modes=TABLE_CLASS_MODES,
            pair_transforms=pair_transforms,
            target_frontend=target_frontend,
            cache=_CacheArguments(cache_dir, cache, cache_dtype, cache_validate),
        )

    def flow_from_annotations(
        self,
        annotations: Any,
        directory: str | os.PathLike,
        classes: Sequence[str] | None = None,
        files: Any = None,
        hop_seconds: float | None = None,
        label_mode: str = "majority",
        min_overlap: float = 0.5,
        background_class: str | None = None,
        frame_rule: str = "center",
        last_window: str = "pad",
        jitter_seconds: float = 0.0,
        batch_size: int = 32,
        shuffle: bool = True,
        seed: int | None = None,
        subset: str | None = None,
        group_col: str | None = None,
        on_error: str = "raise",
        annotations_format: str = "events",
        class_mode: str = "categorical",
        last_batch: str = "short",
        executor: Executor | None = None,
        fold: int | None = None,
        num_folds: int | None = None,
        fold_strategy: str = "hash",
        fold_seed: int | None = None,
        sampling: Any = None,
        samples_per_epoch: int | None = None,
        cache_dir: str | os.PathLike | None = None,
        cache: str = "auto",
        cache_dtype: str = "float32",
        cache_validate: str = "stat",
        **kwargs: Any,
    ) -> ParallelAudioIterator:
        """Cut long recordings into fixed windows, labelled from timed events.

        Window ``i`` of a file covers ``[i * hop, i * hop + L)`` of it, ``L`` being the
        frontend's sample length; only that span is read from disk. Each window is then a
        sample like any other (augmented, featurized), except that silence trimming is off
        (a warning says so once when ``trim_threshold_db`` is set): labels are computed from
        the events after the window's own transform, never from the audio. A speed factor
        ``s`` maps event times ``t -> t / s`` and the placement offset shifts them, as they
        move the audio; pitch, VTLP, loudness and noise do not move time.

        Parameters
        ----------
        annotations : pandas.DataFrame, iterable of rows, str, os.PathLike or None
            The events: a DataFrame or rows with the columns ``filename, onset, offset,
            event_label`` (seconds), or a CSV/TSV file in the DCASE strong-label layout
            (header optional); None for unlabeled windows (batches are ``x`` alone, for
            inference). With ``annotations_format="timeseries"``, the folder holding one
            ``<audio file stem>.csv`` per audio file (``time, class_1, ..., class_N``, 0/1
            values held until the next row).
        directory : str or os.PathLike
            File names are relative to it.
        classes : list of str, optional
            The classes in label order; None: the sorted labels of the events. An event
            whose label is not listed is an error (with the count and the first rows).
        files : None, "all" or list of str
            Which files to window: None, those the annotations name (a file listed with
            empty onset, offset and label has no events); "all", every audio file under
            ``directory`` (files without events give background windows); or a list.
        hop_seconds : float, optional
            Between window starts, > 0; None: the window's length (no overlap).
        label_mode : {"majority", "any", "fraction", "frames"}
            ``"majority"``: the class covering most of the window, if it covers at least
            ``min_overlap`` of it, else ``background_class`` (ties to the lower class id);
            one-hot rows (``class_mode="sparse"``: class ids). ``"any"``: multi-hot, a class
            is present when one of its events overlaps the window by more than
            ``min_overlap`` of the shorter of event and window. ``"fraction"``: each
            class's covered time over the window's length. ``"frames"``: a ``(frames,
            classes)`` multi-hot per frontend frame, batches ``(x, y, w)`` with ``w`` of
            shape ``(batch, frames)``: 0 for frames past the file's end. Events of a class
            that overlap or touch are merged first.
        min_overlap : float
            In [0, 1].
        background_class : str, optional
            The class of what no event covers; added to ``classes`` if not there. With
            ``"majority"`` it defaults to ``"_background_"``; in the other modes its column
            (when given) is 1 (or, with ``"fraction"``, the share) where no other class is.
        frame_rule : {"center", "any"}
            ``"frames"`` mode: mark a frame whose centre an event covers, or every frame of
            the grid of frame steps the event touches (sed_eval's event roll:
            ``floor(onset / step)`` to ``ceil(offset / step) - 1``).
        last_window : {"pad", "drop"}
            The tail of a file no whole window covers: one more window, zero-padded, or none.
        jitter_seconds : float
            In training, each window's start moves by a uniform draw within +-jitter
            (drawn first from the sample's own generator; never out of the file); smaller
            than the hop.
        batch_size : int
            Windows per batch, at most 65536; -1 for every window in one batch.
        shuffle : bool
            Visit windows in a fresh seeded order every epoch. For inference,
            ``shuffle=False`` keeps the batches in ``iterator.windows`` order.
        seed : int, optional
            Seeds the epoch orders, the jitter and every window's augmentation, in
            [0, 2**128 - 1]. None draws one; the iterator's ``seed`` attribute tells which.
        subset : {"training", "validation", "test"}, optional
            Which side of the generator's ``validation_split`` (or of the folds), or its
            ``test_split``. The split deals groups, never windows: every window of a
            recording (or of one ``group_col`` value) is on the side of its group, the
            group's name hashed as ``flow_from_directory`` hashes a speaker.
        group_col : str, optional
            A column of the annotations giving each file's group (speaker, site); default,
            each recording is its own group.
        on_error : {"raise", "skip"}
            A file that does not exist or cannot be read: an error naming it (and its rows),
            or left out with a ``SkippedFilesWarning``.
        annotations_format : {"events", "timeseries"}
        class_mode : {"categorical", "sparse"}
            ``"majority"`` labels as one-hot rows or class ids.
        last_batch : {"short", "repeat"}
            When ``batch_size`` does not divide the number of windows: a smaller last batch,
            or one filled up with the first windows of the epoch's order (see
            :meth:`flow_from_directory`).
        executor : Executor, optional
            What computes the batches: None (default) for this machine's workers, as
            ``cores`` and ``debug`` say; :class:`parallel_audio.ray.RayExecutor` for Ray
            actors on the nodes of a Ray cluster (the same batches, bit for bit).
        fold, num_folds : int, optional
            Grouped k-fold cross-validation: ``subset="validation"`` is fold ``fold`` of
            ``num_folds`` and ``"training"`` the other folds, over the groups above
            (``validation_split`` must be 0). The test groups of ``test_split`` are in no
            fold.
        fold_strategy : {"hash", "balanced", "stratified"}
            How groups are dealt to folds: by their hash (adding recordings moves no group),
            to the fold with the fewest windows (scikit-learn's ``GroupKFold``, a group
            weighing its number of windows), or keeping each fold's class shares even
            (``StratifiedGroupKFold``, each window counted in its ``"majority"`` label as it
            lies in the file; in the other label modes every window counts in one class, so
            it deals as "balanced"). See :mod:`parallel_audio.splits`.
        fold_seed : int, optional
            Another partition into folds, for repeated cross-validation; None is the default.
        sampling : None, "balanced", dict or sequence of float
            Which windows each epoch holds (see :mod:`parallel_audio.sampling`). None: each
            window once (``samples_per_epoch`` aside). ``"balanced"``: an equal share of every
            epoch per class, and ``{class: weight}``: each window of a class weighs
            ``weight``; both read a window's class from its ``"majority"`` label as it lies
            in the file (before jitter and speed, which may move a window's label at the
            edge of an event), so they need ``label_mode="majority"`` with annotations: in
            the multi-label modes (``"any"``, ``"fraction"``, ``"frames"``) a window has no
            single class, and a ``SettingsError`` naming ``sampling`` says so. One weight per
            window, in ``iterator.windows`` order, works in every mode (weigh windows by
            what their labels hold). A window drawn twice in an epoch is augmented (and
            jittered) differently each time. Needs ``shuffle=True``.
        samples_per_epoch : int, optional
            Windows per epoch, from 1 to 2**30; None is the subset's number of windows.
            Without ``sampling``, epochs cycle through the windows in fresh orders, every
            window before any repeats.
        cache_dir : str or os.PathLike, optional
            A folder for a disk cache of decoded audio (see the README's "Disk cache"),
            built here by the workers before the iterator is returned; None (default): no
            cache. A window is sliced out of the cached whole file where that gives the
            samples of the uncached read bit for bit: a PCM (WAV, AIFF, ...) or FLAC file at
            the frontend's rate. Only those files are cached; the windows of any other file
            (at another rate, a window is resampled alone; a seek in MP3 or Ogg decodes
            differently from a whole decode) are read from the file, as without a cache.
        cache : {"auto", "audio"}
            "audio" (what "auto" resolves to): the decoded files. "features" (one final
            sample per whole file) holds nothing a window uses and raises a
            ``SettingsError``.
        cache_dtype : {"float32", "int16"}
            How cached audio is stored: "float32" (default) keeps batches bit for bit as
            uncached; "int16" halves the disk (a ``CacheWarning`` counts the files it clips).
        cache_validate : {"stat", "content", "none"}
            How a cached file is known unchanged: its size and modification time ("stat",
            default), also a hash of its bytes ("content"), or not at all ("none").
        **kwargs
            Keras' image options are accepted and ignored with a warning.

        Returns
        -------
        ParallelAudioIterator
            Its ``windows`` lists ``(sample_id, file, start, end)`` for every window.

        Raises
        ------
        DatasetError
            For annotations that make no sense, naming the row or file: ``onset >=
            offset``, a negative onset, an unknown label, an annotation for a missing file.
            An event past its file's end is clipped with a warning naming it. Also a split
            that cannot be made (a subset without its split, fewer groups than folds) or
            leaves no window in the subset.
        SettingsError
            ``hop_seconds <= 0``, ``min_overlap`` outside [0, 1], ``jitter_seconds >= hop``,
            ``"frames"`` with the frontend off; ``sampling`` by class without
            ``"majority"`` labels; ``cache="features"``; labelled windows with
            ``augmentations`` that move audio in time (``Shift``, ``TimeStretch``, ``Trim``,
            ``Padding``, ``Reverse``, ``RepeatPart``, ``AdjustDuration``, ``Resample``:
            their labels could not follow); a ``get_batch_function`` on the generator
            (it is given files, not windows: read the window's audio with
            ``noaug_preprocessing_function`` or ``preprocessing_function`` instead).
        """
        from parallel_audio.splits import SplitSpec
        from parallel_audio.window_index import build_window_index
        from parallel_audio.windows import FrameGrid

        if self.get_batch_function is not None:
            raise SettingsError(
                "flow_from_annotations cannot use the generator's get_batch_function: it is "
                "given the batch's files, not the windows of them each sample is, so it would "
                "compute whole files; set get_batch_function=None (per-window callbacks such "
                "as preprocessing_function get each window's audio)"
            )
        moving = _time_moving_transforms(self.augmentations)
        if moving and annotations is not None:
            raise SettingsError(
                f"flow_from_annotations cannot label windows augmented by {', '.join(moving)} "
                "(in the generator's augmentations): they move the audio in time, and the "
                "labels follow only the built-in transforms (speed_range, offset_range); use "
                "speed_range for time stretching, or leave these transforms out"
            )
        if class_mode not in ("categorical", "sparse"):
            raise SettingsError(
                f"class_mode of flow_from_annotations must be 'categorical' or 'sparse' (for "
                f"label_mode='majority'), got {class_mode!r}"
            )
        by_class = isinstance(sampling, (str, Mapping))
        if by_class and (annotations is None or label_mode != "majority"):
            why = (
                "unlabeled windows (annotations=None) have no class"
                if annotations is None
                else f"label_mode={label_mode!r} gives a window several classes (or shares)"
            )
            raise SettingsError(
                f"sampling={sampling!r} draws windows by class, but {why}; use "
                "label_mode='majority', or pass sampling as one weight per window (in "
                "iterator.windows order)"
            )
        directory = os.fspath(directory)

        def cut_windows(configuration: ParallelAudioDataGenerator, seed: int, _: Any) -> Any:
            grid = None
            if configuration.frontend_enabled:
                settings = configuration.frontend_settings
                grid = FrameGrid(
                    settings.sample_rate_hz,
                    configuration.sample_length,
                    settings.window_samples,
                    settings.step_samples,
                )
            split = SplitSpec(
                subset=subset,
                validation_split=configuration.validation_split,
                test_split=configuration.test_split,
                fold=fold,
                num_folds=num_folds,
                fold_strategy=fold_strategy,
                fold_seed=fold_seed,
            )
            built = build_window_index(
                annotations,
                directory,
                sample_rate=configuration.sample_rate_hz,
                window_length=configuration.sample_length,
                grid=grid,
                classes=classes,
                files=files,
                hop_seconds=hop_seconds,
                label_mode=label_mode,
                min_overlap=min_overlap,
                background_class=background_class,
                frame_rule=frame_rule,
                last_window=last_window,
                jitter_seconds=jitter_seconds,
                split=split,
                group_col=group_col,
                on_error=on_error,
                annotations_format=annotations_format,
                sparse=class_mode == "sparse",
            )
            if len(built.index) == 0:
                side = "every file" if subset is None else f"subset {subset!r} ({split.describe()})"
                raise DatasetError(
                    f"no window to serve for {side} in {directory!r}: no file (or every "
                    "file is shorter than one window with last_window='drop')"
                )
            return built

        return self._flow(
            "flow_from_annotations",
            directory,
            cut_windows,
            class_mode=class_mode if annotations is not None else None,
            batch_size=batch_size,
            shuffle=shuffle,
            seed=seed,
            subset=subset,
            last_batch=last_batch,
            kwargs={**kwargs, "executor": executor},
            class_modes=("categorical", "sparse", None),
            sampling=sampling,
            samples_per_epoch=samples_per_epoch,
            cache=_CacheArguments(cache_dir, cache, cache_dtype, cache_validate),
            windows=True,
        )


#: audiomentations transforms that move audio in time (shift, stretch, cut, repeat,
#: reverse or resample it), which the labels of windows could not follow.
_TIME_MOVING_TRANSFORMS = frozenset(
    {
        "AdjustDuration",
        "Padding",
        "RepeatPart",
        "Resample",
        "Reverse",
        "Shift",
        "TimeStretch",
        "Trim",
    }
)


def _time_moving_transforms(augmentations: Any) -> list[str]:
    """Name the time-moving transforms in ``augmentations``, inside Compose, OneOf or SomeOf."""
    if augmentations is None:
        return []
    pending = list(augmentations) if isinstance(augmentations, (list, tuple)) else [augmentations]
    names: list[str] = []
    while pending:
        transform = pending.pop(0)
        inner = getattr(transform, "transforms", None)
        if isinstance(inner, (list, tuple)):  # audiomentations' Compose, OneOf and SomeOf
            pending.extend(inner)
        elif type(transform).__name__ in _TIME_MOVING_TRANSFORMS:
            names.append(type(transform).__name__)
    return sorted(set(names))


_TRIM_WARNED = False


def _warn_trim_off_once() -> None:
    """Say once per process that windows are not trimmed."""
    global _TRIM_WARNED
    if not _TRIM_WARNED:
        _TRIM_WARNED = True
        warn_at_caller(
            "flow_from_annotations does not trim silence (trim_threshold_db is ignored): "
            "trimming would move the audio under its event labels"
        )


def _plain_setting(value: Any) -> Any:
    """Return a setting as YAML and JSON write it: lists, dtype names, Python numbers."""
    if isinstance(value, np.dtype):
        return value.name
    if isinstance(value, (tuple, list)):
        return [_plain_setting(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _config_parameters(cls: type) -> list[str]:
    """Return the constructor's parameters a config holds, in signature order.

    All but the Python objects (:data:`OBJECT_PARAMETERS`) and ``frontend_settings``, which a
    config holds setting by setting.
    """
    return [
        parameter.name
        for parameter in inspect.signature(cls.__init__).parameters.values()
        if parameter.name not in OBJECT_PARAMETERS
        and parameter.name not in ("self", "frontend_settings")
        and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
    ]
