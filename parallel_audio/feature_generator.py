"""Spectrograms from audio through the C microfrontend."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from parallel_audio import _microfrontend
from parallel_audio.frontend_settings import AudioFeatureGeneratorSettings
from parallel_audio.native_frontend import build_native

_OUTPUT_DTYPES = (np.dtype(np.uint16), np.dtype(np.float32), np.dtype(np.int8))


def to_int16(sample: npt.ArrayLike) -> np.ndarray:
    """Return a 1-D audio sample as contiguous int16, as the frontend reads it.

    int16 (of either byte order) is taken as is. Floating-point audio in [-1, 1] is
    scaled by 32768, rounded and clipped to the int16 range, so 1.05 becomes 32767, not a
    wrapped negative value. Other dtypes (wider integers have no agreed full scale), other
    ranks, NaN and infinity are rejected.

    Parameters
    ----------
    sample : array_like, shape (n,)
        int16 or floating-point audio.

    Returns
    -------
    numpy.ndarray of int16, shape (n,)

    Raises
    ------
    TypeError
        For a dtype other than int16 or floating point.
    ValueError
        For an array that is not 1-D, or that holds NaN or infinity.
    """
    array = np.asarray(sample)
    if array.ndim != 1:
        raise ValueError(
            f"expected a 1-D audio sample, got an array of shape {array.shape}; "
            "mix or index channels down to one first"
        )
    if array.dtype.kind == "i" and array.dtype.itemsize == 2:
        # Big-endian int16 (from a file or a network buffer) is int16 too: swap to native.
        return np.ascontiguousarray(array, dtype=np.int16)
    if not np.issubdtype(array.dtype, np.floating):
        raise TypeError(
            f"audio of dtype {array.dtype} is not supported: pass int16, "
            "or floating point in [-1, 1]"
        )
    # One reduction finds NaN and infinity (and float32 overflow) before any per-value work.
    if not np.isfinite(np.add.reduce(array, dtype=np.float64)):
        bad = np.flatnonzero(~np.isfinite(array))
        if bad.size:
            raise ValueError(
                f"audio sample holds a non-finite value ({array[bad[0]]}) at index {bad[0]}"
            )
    # Scaling by a power of two is exact in float32, and float32 holds every int16 exactly.
    working = np.float32 if array.dtype.itemsize <= 4 else np.float64
    scaled = np.multiply(array, working(32768.0), dtype=working)
    np.clip(scaled, -32768, 32767, out=scaled)
    return np.rint(scaled, out=scaled).astype(np.int16)


def quantize_int8(values: np.ndarray, settings: AudioFeatureGeneratorSettings) -> np.ndarray:
    """Map a uint16 spectrogram to int8 the way the device's models expect it.

    Static (the TFLM micro-features scaling): ``clip((v * 256 + 333) // 666 - 128, -128, 127)``.
    Dynamic (``settings.quantize_dynamic_scale_enable``): with ``R`` the range in log units,
    ``int(range_db * 2**log_scale_shift * ln(10) / 20)``, ``top = max(v)`` and
    ``bottom = max(top - R, 0)``, ``clip((v - bottom) * 255 // max(top - bottom, 1) - 128)``:
    the maximum maps to 127, everything ``R`` or more below it to -128.

    Parameters
    ----------
    values : numpy.ndarray of uint16
        A spectrogram, any shape.
    settings : AudioFeatureGeneratorSettings
        Supplies ``quantize_dynamic_scale_*`` and ``log_scale_shift``.

    Returns
    -------
    numpy.ndarray of int8, the shape of ``values``
    """
    values = np.ascontiguousarray(values, dtype=np.uint16)
    quantized = np.empty(values.shape, np.int8)
    if settings.quantize_dynamic_scale_enable:
        _microfrontend.quantize_int8_dynamic(
            values, quantized, settings.quantize_dynamic_scale_range_db, settings.log_scale_shift
        )
    else:
        _microfrontend.quantize_int8_static(values, quantized)
    return quantized


class AudioFeatureGenerator:
    """Turns audio into the integer spectrogram a TensorFlow Lite Micro device computes.

    The native state is built lazily in each process that uses the generator, and a
    pickled generator carries only its settings, so it can be sent to worker processes.
    One generator must not be used from several threads at once (calls are serialized,
    but :meth:`activity_was_detected` refers to the last call of any thread).

    Parameters
    ----------
    settings : AudioFeatureGeneratorSettings
        The frontend settings; they are copied and validated here.

    Examples
    --------
    >>> import numpy as np
    >>> generator = AudioFeatureGenerator(AudioFeatureGeneratorSettings())
    >>> generator.process_sample(np.zeros(16000, np.int16)).shape
    (98, 32)
    """

    def __init__(self, settings: AudioFeatureGeneratorSettings) -> None:
        if not isinstance(settings, AudioFeatureGeneratorSettings):
            raise TypeError(
                f"settings must be AudioFeatureGeneratorSettings, got {type(settings).__name__}"
            )
        settings = settings.copy()
        settings.validate()
        self._settings = settings
        self._frontend: _microfrontend.Frontend | None = None
        self._activity = False
        self._native()  # fail here, not on the first sample

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self._settings,))

    @property
    def settings(self) -> AudioFeatureGeneratorSettings:
        """A copy of the settings in use."""
        return self._settings.copy()

    @property
    def spectrogram_shape(self) -> tuple[int, int]:
        """``(frames, channels)`` of a clip of ``settings.sample_length`` samples."""
        return self._settings.spectrogram_shape

    def _native(self) -> _microfrontend.Frontend:
        if self._frontend is None:
            self._frontend = build_native(self._settings)
        return self._frontend

    def process_sample(
        self, sample: npt.ArrayLike, dtype: npt.DTypeLike = np.float32
    ) -> np.ndarray:
        """Compute the spectrogram of one clip.

        The whole frontend state is reset first, so each clip is processed as the device
        processes a fresh recording.

        Parameters
        ----------
        sample : array_like, shape (n,)
            int16 audio, or floating-point audio in [-1, 1] (scaled by 32768, rounded and
            clipped). Any length: ``n`` samples give ``(n - window) // step + 1`` frames.
        dtype : {numpy.float32, numpy.uint16, numpy.int8}
            ``float32`` (the default, as in the reference): the raw values as float;
            ``uint16``: the raw values;
            ``int8``: the TFLM micro-features scaling
            ``clip((v * 256 + 333) // 666 - 128, -128, 127)``, or with
            ``quantize_dynamic_scale_enable`` the top ``quantize_dynamic_scale_range_db``
            of this spectrogram mapped linearly onto -128..127.

        Returns
        -------
        numpy.ndarray, shape (frames, channels)
        """
        output_dtype = np.dtype(dtype)
        if output_dtype not in _OUTPUT_DTYPES:
            raise ValueError(f"dtype must be one of uint16, float32 or int8, got {output_dtype}")
        samples = to_int16(sample)
        frontend = self._native()
        values = np.empty((frontend.num_frames(samples.size), frontend.num_channels), np.uint16)
        self._activity = frontend.process(samples, values)
        if output_dtype == np.uint16:
            return values
        if output_dtype == np.float32:
            return values.astype(np.float32)
        return quantize_int8(values, self._settings)

    def activity_was_detected(self) -> bool:
        """Whether activity detection tripped during the last :meth:`process_sample`.

        Always False when ``activity_detection_enable`` is off. Unlike the reference,
        reading it does not clear it.
        """
        return self._activity
