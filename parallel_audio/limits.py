"""The largest values the generator's numeric parameters accept, and why.

Values beyond a limit are rejected when the generator is built (or the parameter assigned),
so that nonsense fails there, naming the parameter, rather than deep inside a batch or as a
batch of zeros. The augmentations' own limits are here too, for :mod:`parallel_audio.validation`
and the augmentation classes to share without either importing the other.
"""

from __future__ import annotations

#: Batches computed ahead of the consumer. Each is held in the training process until asked
#: for, and more than a few dozen never make training faster.
MAX_BATCHES_PENDING = 256

#: Seconds one batch may take before its worker is taken for hung: a week. Longer means
#: "never", which ``batch_timeout=None`` says.
MAX_BATCH_TIMEOUT_S = 7 * 24 * 3600

#: Largest magnitude of ``rescale`` and of the ends of ``samplewise_normalize_range``:
#: spectrogram values (at most 65535) scaled beyond it leave float32's exact integers.
MAX_SCALE = 1e6

#: Largest ``trim_threshold_db``. Frame energies span at most 10 log10 of
#: (2**32)**2 / 1e-10 (the loudest sample a file may hold over librosa's floor), about
#: 293 dB; any larger threshold trims nothing either.
MAX_TRIM_THRESHOLD_DB = 300.0

#: Largest ``unknown_class_percentage`` and ``silence_class_percentage``: pseudo-classes at
#: most 100 times the smallest real class.
MAX_PSEUDO_CLASS_PERCENTAGE = 100.0

#: Most values in one sample (``sample_shape`` with the frontend off): 64 MB of float32.
MAX_SAMPLE_VALUES = 2**24

#: Most values in one sample's audio (``sample_rate_hz * sample_length_ms / 1000``): 131 s at
#: 16 kHz, 97 minutes of a 360 Hz sensor signal.
MAX_SAMPLE_LENGTH = 2**21

#: Most samples in one batch (``batch_size=-1`` takes the whole dataset whatever its size).
MAX_BATCH_SIZE = 65536

#: Largest seed: random streams keep seeds below 2**128 apart from their keys (see
#: random_streams); seeds drawn for ``seed=None`` are 32-bit.
MAX_SEED = 2**128 - 1

# --- The augmentations' ranges ---------------------------------------------------------------

#: Slowest and fastest speed factor. Beyond 10 times no syllable of speech survives, and the
#: output of a factor near 0 would be without end (a 1 s clip at 1e-6 lasts 11 days).
SPEED_FACTOR_LIMITS = (0.1, 10.0)

#: Largest pitch shift either way, in semitones: two octaves. Beyond, a voice is no longer
#: one, and the frequency map's slope would overflow.
MAX_PITCH_SEMITONES = 24

#: Smallest and largest VTLP warp factor: vocal tracts differ by well under a factor of 2 (a
#: child's against an adult's), and the warp must keep the band below Nyquist increasing.
VTLP_FACTOR_LIMITS = (0.5, 2.0)

#: Largest gain: +40 dB. More turns any recording into a clipped square wave at the frontend.
MAX_LOUDNESS_FACTOR = 100.0

#: The noise levels each ``noise_level_mode`` allows: up to 100 times full-scale noise as a
#: factor; -100 dB to 100 dB as a signal-to-noise ratio (beyond, one of the two is below
#: float32's resolution of the other).
NOISE_LEVEL_LIMITS = {"factor": (0.0, 100.0), "snr_db": (-100.0, 100.0)}
