"""ParallelAudioDataGenerator: the configuration of the sample pipeline and its steps."""

from __future__ import annotations

import math
import numbers
import os
import secrets
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from parallel_audio.audio_ops import fit_to_length, trim_silence
from parallel_audio.augment import (
    NOISE_COLORS,
    NOISE_LEVEL_MODES,
    BackgroundNoise,
    ColoredNoise,
    LoudnessChange,
    PitchShift,
    SpeedChange,
    VocalTractLengthPerturbation,
    apply_augmentations,
    change_speed_pitch_vtlp,
    check_augmentations,
    load_background_noise,
)
from parallel_audio.augment._ranges import check_range as _check_range
from parallel_audio.augment._ranges import is_number as _is_number
from parallel_audio.augment.pitch import octave_range_warning
from parallel_audio.errors import DatasetError, SettingsError
from parallel_audio.feature_generator import AudioFeatureGenerator
from parallel_audio.frontend_settings import AudioFeatureGeneratorSettings

if TYPE_CHECKING:
    from parallel_audio.iterator import ParallelAudioIterator

FRONTEND_DTYPES = ("uint16", "float32", "int8")
CLASS_MODES = ("categorical", "binary", "sparse", "input", None)


def _float_range(name: str, value: Any, **bounds: Any) -> tuple[float, float] | None:
    checked = _check_range(name, value, **bounds)
    return None if checked is None else (float(checked[0]), float(checked[1]))


def _check_number(
    name: str,
    value: Any,
    allowed: str,
    *,
    integer: bool = False,
    minimum: float = -math.inf,
    maximum: float = math.inf,
    below_maximum: bool = False,
) -> Any:
    """Return a finite number within [minimum, maximum] (or [minimum, maximum)), else raise."""
    if not _is_number(value, integer=integer) or not (
        minimum <= value < maximum if below_maximum else minimum <= value <= maximum
    ):
        raise SettingsError(f"{name} must be {allowed}, got {value!r}")
    return value


def _check_callable(name: str, value: Any) -> Callable | None:
    if value is not None and not callable(value):
        raise SettingsError(f"{name} must be callable or None, got {type(value).__name__}")
    return value


def _check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise SettingsError(f"{name} must be True or False, got {value!r}")
    return bool(value)


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
        Worker processes: an int (0 runs in the caller's thread), or a fraction in (0, 1]
        of the machine's cores. Default 0.25.
    debug : bool
        Run workers as threads, so breakpoints in the pipeline and callbacks stop.
    max_batches_pending : int
        At most this many batches are computed ahead of the consumer, >= 1.
    batch_timeout : float, optional
        Seconds a worker process may spend on one batch, > 0. A worker that takes longer is
        taken for hung: it is killed and replaced, with a RuntimeWarning, and its batches
        are computed again; a batch that hangs two workers raises WorkerError. None waits
        forever. Debug threads are never timed. Default 300.
    get_batch_function : callable, optional
        ``f(batch_index, filenames, classes, params) -> (batch_index, (x, y))``; replaces
        the whole pipeline.
    noaug_preprocessing_function, preprocessing_function, postprocessing_function : callable
        ``f(params, x, [batch_index, class_id, filename, batch_class_ids, batch_filenames,
        rng]) -> x``, called before augmentation (float32 audio), before the frontend
        (float32 audio of the sample length) and after it (the spectrogram). The optional
        arguments are passed when the signature names them; ``rng`` is the sample's own
        ``numpy.random.Generator``.
    samplewise_center, samplewise_std_normalization : bool
        Subtract each sample's mean; divide by its standard deviation (+1e-6).
    samplewise_normalize_range : (float, float), optional
        Scale each sample linearly onto this range, after the other normalizations.
    rescale : float, optional
        Multiply each sample by this value first.
    validation_split : float
        Fraction of speakers (or files) held out for ``subset="validation"``, in [0, 1).
    validation_augmentation_enabled : bool
        Augment validation samples too. When False, validation ``_silence_`` samples still
        get their noise, one fixed draw per sample, the same every epoch (MLTK's are zeros).
    dtype : str
        dtype of the samples in a batch (and of categorical labels). Default float32.
    frontend_dtype : {"uint16", "float32", "int8"}, optional
        dtype the frontend produces before standardization; default ``dtype``.
    trim_threshold_db : float, optional
        Leading and trailing audio more than this many dB below the clip's loudest frame
        is cut (``librosa.effects.trim`` semantics). None or 0 keeps the clip whole.
        Default 20.
    noise_colors : str or list of str, optional
        Colored noise to add: among white, pink, brown (power falling as 1/f^0, 1/f,
        1/f^2), blue, violet (rising as f, f^2); or "all", or "none".
    noise_color_range : (float, float), optional
        Level of the colored noise, see ``noise_level_mode``.
    speed_range : (float, float), optional
        Tempo factor, > 0 (< 1 slower and longer, > 1 faster and shorter), pitch kept.
        Drawn continuously over the range.
    pitch_range : (int, int) or (float, float), optional
        Pitch shift, duration kept: two ints are semitone steps (both ends drawn); with a
        float the range is in octaves, times 12 in semitones (``(-0.5, 0.5)`` is -6 to +6).
        A float range reaching beyond 6 semitones, such as ``(0.9, 1.1)`` (+10.8 to +13.2),
        warns: it was most likely meant as frequency factors.
    vtlp_range : (float, float), optional
        Vocal tract length perturbation factor, > 0: frequencies below 4800 Hz are scaled by
        it, the band above is warped linearly up to Nyquist.
    loudness_range : (float, float), optional
        Gain drawn per sample, >= 0 (< 1 quieter, > 1 louder); it also scales the noise.
    bg_noise_range : (float, float), optional
        Level of the background noise, see ``noise_level_mode``.
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
        class. Defaults 1.0 and 0.6.
    disable_random_transforms : bool
        No augmentation at all (clips are still trimmed and padded at offset 0).
    frontend_settings : AudioFeatureGeneratorSettings, optional
        The microfrontend's settings; their sample rate and length define the samples.
    frontend_enabled : bool
        Return spectrograms (True) or the augmented audio (False).
    sample_shape : tuple of int, optional
        Shape of a sample; required with ``frontend_enabled=False``.
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

    Examples
    --------
    >>> generator = ParallelAudioDataGenerator(cores=0, loudness_range=(0.8, 1.2))
    >>> generator.sample_shape
    (98, 32, 1)
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
    ) -> None:
        if _is_number(cores, integer=True):
            _check_number("cores", cores, ">= 0 as an int", minimum=0)
        elif not (_is_number(cores) and 0 < cores <= 1):
            raise SettingsError(
                "cores must be an int >= 0 or, as a fraction of the machine's cores, "
                f"a float in (0, 1]; got {cores!r}"
            )
        self.cores = cores
        self.debug = _check_bool("debug", debug)
        self.max_batches_pending = int(
            _check_number(
                "max_batches_pending", max_batches_pending, "an int >= 1", integer=True, minimum=1
            )
        )
        if batch_timeout is not None and not (
            _is_number(batch_timeout) and 0 < batch_timeout < math.inf
        ):
            raise SettingsError(
                f"batch_timeout must be a number of seconds > 0, or None; got {batch_timeout!r}"
            )
        self.batch_timeout = None if batch_timeout is None else float(batch_timeout)

        self.get_batch_function = _check_callable("get_batch_function", get_batch_function)
        self.noaug_preprocessing_function = _check_callable(
            "noaug_preprocessing_function", noaug_preprocessing_function
        )
        self.preprocessing_function = _check_callable(
            "preprocessing_function", preprocessing_function
        )
        self.postprocessing_function = _check_callable(
            "postprocessing_function", postprocessing_function
        )

        self.samplewise_center = _check_bool("samplewise_center", samplewise_center)
        self.samplewise_std_normalization = _check_bool(
            "samplewise_std_normalization", samplewise_std_normalization
        )
        self.samplewise_normalize_range = _float_range(
            "samplewise_normalize_range", samplewise_normalize_range
        )
        if self.samplewise_normalize_range is not None and not math.isfinite(
            self.samplewise_normalize_range[1] - self.samplewise_normalize_range[0]
        ):
            raise SettingsError(
                "samplewise_normalize_range must span a finite width, got "
                f"{samplewise_normalize_range!r}"
            )
        if rescale is not None:
            _check_number("rescale", rescale, "a finite number or None")
        self.rescale = rescale
        self.validation_split = float(
            _check_number(
                "validation_split",
                validation_split,
                "in [0, 1)",
                minimum=0,
                maximum=1,
                below_maximum=True,
            )
        )
        self.validation_augmentation_enabled = _check_bool(
            "validation_augmentation_enabled", validation_augmentation_enabled
        )

        try:
            self.dtype = np.dtype(dtype).name
        except TypeError:
            raise SettingsError(f"dtype must be a numpy dtype, got {dtype!r}") from None
        if frontend_dtype is not None:
            try:
                frontend_dtype = np.dtype(frontend_dtype).name
            except TypeError:
                frontend_dtype = repr(frontend_dtype)
            if frontend_dtype not in FRONTEND_DTYPES:
                raise SettingsError(
                    f"frontend_dtype must be one of {', '.join(FRONTEND_DTYPES)} or None, "
                    f"got {frontend_dtype}"
                )
        self.frontend_dtype = frontend_dtype

        if trim_threshold_db is not None:
            _check_number(
                "trim_threshold_db", trim_threshold_db, "a number >= 0 or None", minimum=0
            )
        self.trim_threshold_db = trim_threshold_db

        if noise_level_mode not in NOISE_LEVEL_MODES:
            raise SettingsError(
                f"noise_level_mode must be one of {', '.join(NOISE_LEVEL_MODES)}, "
                f"got {noise_level_mode!r}"
            )
        self.noise_level_mode = noise_level_mode
        level_minimum = 0 if noise_level_mode == "factor" else None
        self.noise_colors = self._check_noise_colors(noise_colors)
        self.noise_color_range = _float_range(
            "noise_color_range", noise_color_range, minimum=level_minimum
        )
        self.speed_range = _float_range("speed_range", speed_range, minimum=0, open_minimum=True)
        self.pitch_range = _check_range("pitch_range", pitch_range)
        if (pitch_warning := octave_range_warning(self.pitch_range)) is not None:
            warnings.warn(pitch_warning, UserWarning, stacklevel=2)  # at the caller's line
        self.vtlp_range = _float_range("vtlp_range", vtlp_range, minimum=0, open_minimum=True)
        self.loudness_range = _float_range("loudness_range", loudness_range, minimum=0)
        self.bg_noise_range = _float_range("bg_noise_range", bg_noise_range, minimum=level_minimum)
        if bg_noise_dir is not None and not isinstance(bg_noise_dir, str | os.PathLike):
            raise SettingsError(f"bg_noise_dir must be a path or None, got {bg_noise_dir!r}")
        self.bg_noise_dir = None if bg_noise_dir is None else os.fspath(bg_noise_dir)
        #: Background noise by file name, loaded by flow_from_directory (the reference's name).
        self.bg_noises: dict[str, np.ndarray] | None = None
        self._warn_about_unused_noise_settings()
        self.augmentations = check_augmentations(augmentations)
        self.offset_range = _float_range("offset_range", offset_range, minimum=0, maximum=1)
        if self.offset_range is None:
            raise SettingsError("offset_range must be a (low, high) pair within [0, 1]")

        self.unknown_class_percentage = float(
            _check_number(
                "unknown_class_percentage", unknown_class_percentage, "a number >= 0", minimum=0
            )
        )
        self.silence_class_percentage = float(
            _check_number(
                "silence_class_percentage", silence_class_percentage, "a number >= 0", minimum=0
            )
        )
        self.disable_random_transforms = _check_bool(
            "disable_random_transforms", disable_random_transforms
        )

        if frontend_settings is None:
            frontend_settings = AudioFeatureGeneratorSettings()
        if not isinstance(frontend_settings, AudioFeatureGeneratorSettings):
            raise SettingsError(
                "frontend_settings must be AudioFeatureGeneratorSettings or None, got "
                f"{type(frontend_settings).__name__}"
            )
        self.frontend_settings = frontend_settings.copy()
        self.frontend_settings.validate()
        self.frontend_enabled = _check_bool("frontend_enabled", frontend_enabled)
        self.add_channel_dimension = _check_bool("add_channel_dimension", add_channel_dimension)
        self.disable_gpu_in_subprocesses = _check_bool(
            "disable_gpu_in_subprocesses", disable_gpu_in_subprocesses
        )
        if not self.frontend_enabled:
            if sample_shape is None:
                raise SettingsError(
                    "sample_shape is required with frontend_enabled=False, for instance "
                    f"({self.frontend_settings.sample_length},)"
                )
            try:
                sample_shape = tuple(int(d) for d in sample_shape)
            except (TypeError, ValueError):
                raise SettingsError(
                    f"sample_shape must be a tuple of ints, got {sample_shape!r}"
                ) from None
        self._sample_shape_override = sample_shape if not self.frontend_enabled else None
        self._frontend: AudioFeatureGenerator | None = None

        rate = self.frontend_settings.sample_rate_hz
        self._speed = SpeedChange(self.speed_range) if self.speed_range else None
        self._pitch = PitchShift(self.pitch_range) if self.pitch_range else None
        self._vtlp = VocalTractLengthPerturbation(self.vtlp_range) if self.vtlp_range else None
        self._loudness = LoudnessChange(self.loudness_range) if self.loudness_range else None
        self._colored_noise = (
            ColoredNoise(
                self.noise_colors,
                self.noise_color_range,
                mode=self.noise_level_mode,
                sample_rate=rate,
            )
            if self.noise_colors and self.noise_color_range
            else None
        )
        self._background_noise: BackgroundNoise | None = None
        self._background_noise_source: str | None = None

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
                warnings.warn(
                    f"{present} is set but {missing} is not: no such noise is added",
                    stacklevel=3,
                )

    @staticmethod
    def _check_noise_colors(noise_colors: Any) -> tuple[str, ...]:
        if noise_colors is None or noise_colors == "none":
            return ()
        if noise_colors == "all":
            return NOISE_COLORS
        colors = (noise_colors,) if isinstance(noise_colors, str) else tuple(noise_colors)
        unknown = [c for c in colors if c not in NOISE_COLORS]
        if unknown or not colors:
            raise SettingsError(
                f"noise_colors must be 'all', 'none', None or a list of "
                f"{', '.join(NOISE_COLORS)}; got {noise_colors!r}"
            )
        return colors

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_frontend"] = None  # rebuilt lazily in each process
        return state

    # Properties of the reference.

    @property
    def sample_rate_hz(self) -> int:
        """The frontend's sample rate: every clip is resampled to it."""
        return self.frontend_settings.sample_rate_hz

    @property
    def sample_length_ms(self) -> int:
        """Length of a sample in milliseconds."""
        return self.frontend_settings.sample_length_ms

    @property
    def sample_length(self) -> int:
        """Length of a sample in audio samples."""
        return self.frontend_settings.sample_length

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """Shape of one sample in a batch."""
        if not self.frontend_enabled:
            return self._sample_shape_override
        shape = self.frontend_settings.spectrogram_shape
        return (*shape, 1) if self.add_channel_dimension else shape

    @property
    def frontend_output_dtype(self) -> str:
        """The frontend's output dtype, before standardization.

        ``frontend_dtype``, else ``dtype`` when the frontend can produce it, else float32.
        """
        if self.frontend_dtype is not None:
            return self.frontend_dtype
        return self.dtype if self.dtype in FRONTEND_DTYPES else "float32"

    @property
    def default_transform(self) -> dict[str, Any]:
        """The transform of a sample that is not augmented: at offset 0, unchanged.

        The reference's keys (``offset_percentage``, ``loudness_factor``, ``noise_color``,
        ``noise_color_factor``, ``bg_noise``, ``bg_noise_factor``, ``speed_factor``,
        ``pitch_factor``, ``vtlp_factor``) plus where the noise crops start
        (``noise_position``, ``bg_noise_position``, fractions) and the seed of the
        ``augmentations`` transforms. ``pitch_factor`` is in semitones (0 is no shift).
        """
        return {
            "offset_percentage": 0.0,
            "loudness_factor": 1.0,
            "noise_color": None,
            "noise_color_factor": 0.0,
            "noise_position": 0.0,
            "bg_noise": None,
            "bg_noise_factor": 0.0,
            "bg_noise_position": 0.0,
            "speed_factor": 1.0,
            "pitch_factor": 0.0,
            "vtlp_factor": 1.0,
            "augmentation_seed": None,
        }

    # The pipeline's steps.

    def get_random_transform(
        self, rng: np.random.Generator | None = None, *, silence: bool = False
    ) -> dict[str, Any]:
        """Draw one sample's augmentation parameters (see :attr:`default_transform`).

        When both colored and background noise are configured, each sample gets one of
        them, with equal probability. A ``_silence_`` sample (``silence=True``) gets noise
        only: background noise when there is some, else colored noise.

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
        transform = self.default_transform
        if self.disable_random_transforms:
            return transform
        rng = rng if rng is not None else np.random.default_rng()
        colored, background = self._colored_noise, self._background_noise
        if silence:
            colored = None if background is not None else colored
        elif colored is not None and background is not None:
            if rng.random() < 0.5:
                background = None
            else:
                colored = None
        if colored is not None:
            color, level, position = colored.draw(rng)
            transform.update(noise_color=color, noise_color_factor=level, noise_position=position)
        if background is not None:
            name, level, position = background.draw(rng)
            transform.update(bg_noise=name, bg_noise_factor=level, bg_noise_position=position)
        if silence:
            return transform

        transform["offset_percentage"] = float(rng.uniform(*self.offset_range))
        if self._loudness is not None:
            transform["loudness_factor"] = self._loudness.draw(rng)
        if self._speed is not None:
            transform["speed_factor"] = self._speed.draw(rng)
        if self._pitch is not None:
            transform["pitch_factor"] = self._pitch.draw(rng)
        if self._vtlp is not None:
            transform["vtlp_factor"] = self._vtlp.draw(rng)
        if self.augmentations:
            transform["augmentation_seed"] = int(rng.integers(2**63))
        return transform

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
        sample = self._resampled(sample, orignal_sr)
        if whole_sample:
            return sample
        return fit_to_length(sample, out_length or self.sample_length, offset)

    def apply_transform(
        self,
        sample: np.ndarray,
        orignal_sr: int,
        params: dict[str, Any],
        whole_sample: bool = False,
    ) -> np.ndarray:
        """Trim, change speed, pitch and VTLP, place at the offset, set loudness, add noise.

        In that order (the order of the design): resample to the frontend's rate, trim
        silence, speed / pitch / VTLP in one pass, pad or crop to the sample length at
        ``offset_percentage``, multiply by ``loudness_factor``, add the colored or
        background noise, then apply the ``augmentations`` transforms.

        Parameters
        ----------
        sample : numpy.ndarray, shape (n,)
            float32 audio at ``orignal_sr``.
        orignal_sr : int
            Its sample rate.
        params : dict
            From :meth:`get_random_transform` or :attr:`default_transform`; missing keys
            take their default.
        whole_sample : bool
            Keep the clip's length instead of fitting it to the sample length.

        Returns
        -------
        numpy.ndarray of float32
        """
        params = {**self.default_transform, **params}
        rate = self.sample_rate_hz
        sample = self._resampled(np.asarray(sample, np.float32), orignal_sr)
        if self.trim_threshold_db:
            sample = trim_silence(sample, self.trim_threshold_db)
        sample = change_speed_pitch_vtlp(
            sample,
            sample_rate=rate,
            speed=params["speed_factor"],
            semitones=params["pitch_factor"],
            vtlp=params["vtlp_factor"],
        )
        if not whole_sample:
            sample = fit_to_length(sample, self.sample_length, params["offset_percentage"])
        gain = params["loudness_factor"]
        sample = LoudnessChange.apply(sample, gain)
        if params["noise_color"] is not None:
            if self._colored_noise is None:
                raise SettingsError("the transform asks for colored noise but none is configured")
            sample = self._colored_noise.apply(
                sample,
                params["noise_color"],
                params["noise_color_factor"],
                params["noise_position"],
                gain,
            )
        if params["bg_noise"] is not None:
            if self._background_noise is None:
                raise SettingsError(
                    "the transform asks for background noise but none is loaded: "
                    "flow_from_directory loads bg_noise_dir"
                )
            sample = self._background_noise.apply(
                sample,
                params["bg_noise"],
                params["bg_noise_factor"],
                params["bg_noise_position"],
                gain,
            )
        if params["augmentation_seed"] is not None:
            sample = apply_augmentations(
                self.augmentations, sample, rate, params["augmentation_seed"]
            )
            if not whole_sample and sample.size != self.sample_length:
                sample = fit_to_length(sample, self.sample_length, 0.0)
        return np.ascontiguousarray(sample, np.float32)

    def apply_frontend(self, sample: np.ndarray, dtype: Any = np.float32) -> np.ndarray:
        """Return the spectrogram of one sample, (frames, channels), in ``dtype``."""
        if self._frontend is None:
            self._frontend = AudioFeatureGenerator(self.frontend_settings)
        return self._frontend.process_sample(sample, dtype=dtype)

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

    def _load_background_noise(self, directory: str) -> None:
        """Load ``bg_noise_dir``: as given if it exists, else relative to ``directory``."""
        source = self.bg_noise_dir
        if not os.path.isdir(source):
            source = os.path.join(directory, self.bg_noise_dir)
        if not os.path.isdir(source):
            raise DatasetError(
                f"bg_noise_dir {self.bg_noise_dir!r} is neither a directory nor one inside "
                f"{directory!r}"
            )
        source = os.path.realpath(source)
        if source == self._background_noise_source:
            return  # train and validation iterators of one dataset share what was read
        self.bg_noises = load_background_noise(source, self.sample_rate_hz)
        self._background_noise_source = source
        self._background_noise = (
            BackgroundNoise(
                self.bg_noises,
                self.bg_noise_range,
                mode=self.noise_level_mode,
                sample_rate=self.sample_rate_hz,
            )
            if self.bg_noise_range is not None
            else None
        )

    def _resampled(self, sample: np.ndarray, sample_rate: int) -> np.ndarray:
        if sample_rate == self.sample_rate_hz:
            return sample
        import soxr

        return soxr.resample(sample, sample_rate, self.sample_rate_hz, quality="HQ").astype(
            np.float32, copy=False
        )

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
            Samples per batch; -1 for the whole dataset in one batch.
        shuffle : bool
            Visit samples in a fresh seeded order every epoch (else in index order).
        shuffle_index_dir : str, optional
            Where the shuffled per-class file order is written once and reused.
        seed : int, optional
            Seeds the file order, the epoch orders and every sample's augmentation. None
            draws one; the iterator's ``seed`` attribute tells which, to repeat a run.
        follow_links : bool
            Follow symbolic links to directories.
        subset : {"training", "validation"}, optional
            Which side of ``validation_split``.
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
        **kwargs
            The reference's image-saving options are accepted and ignored, with a warning.

        Returns
        -------
        ParallelAudioIterator
        """
        from parallel_audio.dataset_index import build_index
        from parallel_audio.iterator import LAST_BATCH_MODES, ParallelAudioIterator

        if last_batch not in LAST_BATCH_MODES:
            raise SettingsError(
                f"last_batch must be one of {', '.join(map(repr, LAST_BATCH_MODES))}, "
                f"got {last_batch!r}"
            )
        if class_mode not in CLASS_MODES:
            raise SettingsError(f"class_mode must be one of {CLASS_MODES}, got {class_mode!r}")
        if (
            isinstance(batch_size, bool)
            or not isinstance(batch_size, numbers.Integral)
            or not (batch_size >= 1 or batch_size == -1)
        ):
            raise SettingsError(f"batch_size must be an int >= 1 or -1, got {batch_size!r}")
        if kwargs:
            warnings.warn(f"flow_from_directory ignores {', '.join(sorted(kwargs))}", stacklevel=2)
        if seed is None:
            seed = secrets.randbits(32)
        if self.bg_noise_dir is not None:
            self._load_background_noise(os.fspath(directory))
        index = build_index(
            os.fspath(directory),
            list(classes),
            subset=subset,
            validation_split=self.validation_split,
            seed=seed,
            follow_links=follow_links,
            max_samples_per_class=max_samples_per_class,
            unknown_class_percentage=self.unknown_class_percentage,
            silence_class_percentage=self.silence_class_percentage,
            shuffle_index_dir=None if shuffle_index_dir is None else os.fspath(shuffle_index_dir),
            list_valid_filenames_in_directory_function=list_valid_filenames_in_directory_function,
            class_counts=class_counts,
            on_error=on_error,
        )
        return ParallelAudioIterator(
            self,
            index,
            class_mode=class_mode,
            batch_size=batch_size,
            shuffle=shuffle,
            seed=seed,
            subset=subset,
            last_batch=last_batch,
        )
