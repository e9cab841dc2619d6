"""How loud the added noise is against the clips: the SNRs a configuration's augmentation produces.

``preview`` and ``info`` report them, so that a noise range is judged before training with it:
the same factor means a very different signal-to-noise ratio depending on the recordings, and
a range that buries the keywords under noise costs accuracy (see "Coming from MLTK" in the
README: MLTK never added background noise, so a spec's ``bg_noise_range`` is new to a model
trained on it).

Each sample is measured as training would produce it in its first epoch: the transform drawn
from the sample's own generator, the clip after speed, pitch, VTLP, padding and loudness, and
the noise added to it (colored or background, the real crop at the real level). The ratio is
the clip's integrated loudness against the noise's, in dB (ITU-R BS.1770, as ``pyloudnorm``
measures it, which is the unit ``noise_level_mode="snr_db"`` sets levels in): K-weighted and
gated, so the silence a short clip is padded with does not count against it.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from parallel_audio.augment import loudness_lufs
from parallel_audio.cli.common import build_audio_generator
from parallel_audio.cli.data_settings import CommandLineError
from parallel_audio.errors import AudioFileError

#: Samples measured unless the command says otherwise: enough for the 10th percentile to
#: sit within about 1 dB, in about a second.
DEFAULT_SNR_SAMPLES = 200
#: A warning is printed when more than this share of the samples is below 0 dB.
WARN_SHARE_BELOW_0_DB = 0.10


@dataclass
class SnrSurvey:
    """Signal-to-noise ratios of samples as the augmentation produces them.

    Attributes
    ----------
    snr_db : numpy.ndarray of float64
        One ratio per measured sample, in dB; ``inf`` for a sample that received no noise,
        or noise below the -70 LUFS absolute gate of BS.1770 (too faint to measure).
    sample_ids : numpy.ndarray of int64
        The sample (index into the iterator's ``filenames``) each ratio belongs to.
    num_silence : int
        ``_silence_`` samples and clips without measurable loudness: noise only, no ratio.
    num_unreadable : int
        Samples whose file could not be read (``info`` lists those files).
    subset : str or None
        The subset measured.
    noise_sources : tuple of str
        The noises configured: ``"colored"``, ``"background"``.
    noise_level_mode : str
        How the generator reads its noise ranges.
    """

    snr_db: np.ndarray
    sample_ids: np.ndarray
    num_silence: int = 0
    num_unreadable: int = 0
    subset: str | None = None
    noise_sources: tuple[str, ...] = ()
    noise_level_mode: str = "factor"

    @property
    def num_measured(self) -> int:
        """Samples with a ratio, those without noise included."""
        return int(self.snr_db.size)

    @property
    def num_without_noise(self) -> int:
        """Samples that received no noise, or noise too faint to measure (below -70 LUFS)."""
        return int(np.sum(np.isinf(self.snr_db)))

    def percentile_db(self, percent: float) -> float:
        """Return the ratio ``percent`` % of the samples fall at or below (an observed one)."""
        if self.num_measured == 0:
            return math.nan
        # "inverted_cdf" picks an observed ratio: interpolating would turn inf - inf into nan.
        return float(np.percentile(self.snr_db, percent, method="inverted_cdf"))

    @property
    def median_db(self) -> float:
        """The median ratio."""
        return self.percentile_db(50)

    @property
    def share_below_0_db(self) -> float:
        """Share of the measured samples whose noise is louder than their clip."""
        if self.num_measured == 0:
            return math.nan
        return float(np.mean(self.snr_db < 0))


def configured_noise(generator: Any) -> tuple[str, ...]:
    """Return the noises the generator adds to samples: ``"colored"``, ``"background"``."""
    if generator.disable_random_transforms:
        return ()
    colored = bool(generator.noise_colors) and generator.noise_color_range is not None
    background = generator.bg_noise_dir is not None and generator.bg_noise_range is not None
    return ("colored",) * colored + ("background",) * background


def clip_and_noise(
    iterator: Any, sample_id: int, epoch: int = 0
) -> tuple[np.ndarray, np.ndarray] | None:
    """Return one sample's clip and the noise added to it, as the pipeline computes them.

    The transform is the one the pipeline draws for the sample in ``epoch``; ``clip + noise``
    is the augmented audio (before any ``augmentations`` transforms, left out here) that
    reaches ``preprocessing_function``.

    Parameters
    ----------
    iterator : ParallelAudioIterator
        From ``flow_from_directory`` (of a generator without callbacks that draw from the
        sample's generator, which would change what it draws next).
    sample_id : int
        Index into ``iterator.filenames``.
    epoch : int
        The epoch whose draw to use.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray) or None
        float32 arrays of the sample length; None for a ``_silence_`` sample.
    """
    from parallel_audio.audio_io import read_audio
    from parallel_audio.pipeline import sample_rng

    filename = iterator.filenames[sample_id]
    if filename is None:
        return None
    params = iterator.process_params
    runtime = params.runtime  # the iterator's: its dataset's background noise
    audio = read_audio(os.path.join(params.directory, filename), params.sample_rate)
    transform = runtime.random_transform(sample_rng(params.seed, epoch, sample_id))
    transform = dataclasses.replace(transform, augmentation_seed=None)
    noisy = runtime.apply_transform(audio, params.sample_rate, transform)
    clean = dataclasses.replace(transform, noise_color=None, bg_noise=None)
    clip = runtime.apply_transform(audio, params.sample_rate, clean)
    # Noise is added last and alone, so the difference is the noise, to float32 rounding.
    return clip, noisy - clip


def survey_snr(iterator: Any, num_samples: int = DEFAULT_SNR_SAMPLES, epoch: int = 0) -> SnrSurvey:
    """Measure the signal-to-noise ratio of the first samples of an epoch.

    Parameters
    ----------
    iterator : ParallelAudioIterator
        The iterator whose samples to measure (its generator's configuration).
    num_samples : int
        How many samples, from the start of the epoch's (shuffled) order: a random sample
        of the dataset when ``shuffle`` is on.
    epoch : int
        The epoch whose transforms are measured.

    Returns
    -------
    SnrSurvey
    """
    params = iterator.process_params
    rate = params.sample_rate
    ratios, ids = [], []
    silence = unreadable = 0
    for sample_id in iterator.epoch_plan(epoch)[:num_samples]:
        try:
            parts = clip_and_noise(iterator, int(sample_id), epoch)
        except AudioFileError:
            unreadable += 1
            continue
        clip_loudness = -math.inf if parts is None else loudness_lufs(parts[0], rate)
        if not math.isfinite(clip_loudness):
            silence += 1
            continue
        noise_loudness = loudness_lufs(parts[1], rate)
        ratios.append(clip_loudness - noise_loudness)  # inf when no noise was added
        ids.append(int(sample_id))
    return SnrSurvey(
        snr_db=np.array(ratios, dtype=np.float64),
        sample_ids=np.array(ids, dtype=np.int64),
        num_silence=silence,
        num_unreadable=unreadable,
        subset=iterator.subset,
        noise_sources=configured_noise(params.audio_data_generator),
        noise_level_mode=params.audio_data_generator.noise_level_mode,
    )


def _db(value: float) -> str:
    return "no noise" if value == math.inf else f"{value:.1f} dB"


def snr_report(survey: SnrSurvey) -> list[str]:
    """Return the lines describing the distribution, for the command's output."""
    which = f"{survey.subset} samples" if survey.subset else "samples"
    lines = [
        f"Signal-to-noise ratio of {survey.num_measured} {which} as the first epoch augments "
        "them (clip loudness against the noise added to it, BS.1770, the unit of "
        "noise_level_mode='snr_db'):"
    ]
    if survey.num_measured == 0:
        lines.append("  no sample with a clip to measure")
    else:
        lines.append(
            f"  median {_db(survey.median_db)}, 10th percentile {_db(survey.percentile_db(10))}, "
            f"{100 * survey.share_below_0_db:.1f} % below 0 dB"
        )
    notes = []
    if survey.num_without_noise:
        notes.append(
            f"{survey.num_without_noise} received no noise, or noise too faint to measure "
            "(below BS.1770's -70 LUFS gate): counted as no noise"
        )
    if survey.num_silence:
        notes.append(f"{survey.num_silence} _silence_ (or silent) samples have no clip to measure")
    if survey.num_unreadable:
        notes.append(f"{survey.num_unreadable} could not be read")
    if notes:
        lines.append(f"  ({'; '.join(notes)})")
    return lines


def snr_warning(survey: SnrSurvey) -> str | None:
    """Return the warning to print when too many samples are below 0 dB, else None."""
    if not survey.num_measured or survey.share_below_0_db <= WARN_SHARE_BELOW_0_DB:
        return None
    text = (
        f"{100 * survey.share_below_0_db:.0f} % of the samples have more noise than signal "
        f"(below 0 dB; the warning starts above {100 * WARN_SHARE_BELOW_0_DB:.0f} %)."
    )
    if "background" in survey.noise_sources:
        text += (
            " MLTK never added background noise (README, 'Coming from MLTK'): to train as it "
            "effectively did, leave bg_noise_range unset (--bg-noise-range none)."
        )
    option = "--bg-noise-range" if "background" in survey.noise_sources else "--noise-color-range"
    if survey.noise_level_mode == "snr_db":
        text += f" Raise the low end of {option} (it is in dB)."
    else:
        text += (
            f" To set the noise by its SNR instead: --noise-level-mode snr_db {option} 5 25 (dB)."
        )
    return text


def add_snr_option(parser: Any) -> None:
    """Add ``--snr-samples N`` to a command that reports the SNRs."""
    parser.add_argument(
        "--snr-samples",
        type=int,
        default=DEFAULT_SNR_SAMPLES,
        metavar="N",
        help="samples whose signal-to-noise ratio is measured when noise is configured "
        f"(default: {DEFAULT_SNR_SAMPLES}; 0 measures none)",
    )


def report_settings_snr(
    settings: Any,
    directory: str | os.PathLike,
    classes: list[str],
    *,
    seed: int,
    num_samples: int,
    base_frontend: Any = None,
) -> SnrSurvey | None:
    """Measure the SNRs a command's settings produce and print them; None without noise.

    The report goes to standard output, the warning (more than 10 % of the samples below
    0 dB) to standard error. The training subset is measured when there is a validation
    split.

    Parameters
    ----------
    settings : DataSettings
        The command's generator settings.
    directory : str or os.PathLike
        The dataset.
    classes : list of str
        As ``flow_from_directory`` takes them.
    seed : int
        The seed training would use.
    num_samples : int
        Samples to measure; 0 measures none.
    base_frontend : AudioFeatureGeneratorSettings, optional
        Frontend settings the command starts from.

    Returns
    -------
    SnrSurvey or None
    """
    if num_samples < 0:
        raise CommandLineError(f"--snr-samples must be 0 or more, got {num_samples}")
    generator = build_audio_generator(settings, base_frontend=base_frontend, cores=0)
    if num_samples == 0 or not configured_noise(generator):
        return None
    subset = "training" if generator.validation_split > 0 else None
    with generator.flow_from_directory(directory, classes=classes, seed=seed, subset=subset) as it:
        survey = survey_snr(it, num_samples)
    print("\n" + "\n".join(snr_report(survey)))
    warning = snr_warning(survey)
    if warning is not None:
        print(f"warning: {warning}", file=sys.stderr)
    return survey
