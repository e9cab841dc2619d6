"""``parallel-audio demo``: train a keyword spotter on a dataset synthesized on the spot.

Synthesizes six keywords and ten other words spoken by varied voices, with background noise
(:mod:`parallel_audio.cli.synthetic`); trains a small CNN on their spectrograms through
:class:`~parallel_audio.ParallelAudioDataGenerator` with augmentation, ``_unknown_``,
``_silence_`` and a validation split; prints the throughput and the validation accuracy; and
saves the model, its data settings, the training curves and a preview of the augmented
spectrograms.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from parallel_audio.cli.config_file import save_config, settings_from_mapping
from parallel_audio.cli.data_settings import (
    CommandLineError,
    DataSettings,
    build_generator,
)
from parallel_audio.cli.options import add_command_parser, add_generator_options, resolve_settings
from parallel_audio.cli.synthetic import KEYWORDS, NOISE_FOLDER, write_keyword_dataset

CLASSES = [*KEYWORDS, "_unknown_", "_silence_"]

#: The frontend of TensorFlow Lite Micro's micro_speech example: 30 ms windows every 20 ms,
#: 40 channels, noise reduction and PCAN; 49 frames per second of audio.
DEMO_FRONTEND = {
    "window_size_ms": 30,
    "window_step_ms": 20,
    "filterbank_n_channels": 40,
    "noise_reduction_enable": True,
    "pcan_enable": True,
}

#: The demo's data settings, the whole augmentation set. The command line and --config
#: override any of them.
DEMO_GENERATOR_OPTIONS: dict[str, Any] = {
    "cores": 0.5,
    "max_batches_pending": 8,
    "validation_split": 0.15,
    "frontend_dtype": "int8",
    "samplewise_center": True,
    "samplewise_std_normalization": True,
    "trim_threshold_db": 30,
    "offset_range": (0.0, 1.0),
    "loudness_range": (0.5, 1.5),
    "speed_range": (0.9, 1.1),
    "pitch_range": (-2, 2),
    "vtlp_range": (0.9, 1.1),
    # Noise levels as signal-to-noise ratios in dB: the clips' loudness varies by 20 dB, and
    # fixed noise amplitudes would bury the quiet ones.
    "noise_level_mode": "snr_db",
    "noise_colors": "all",
    "noise_color_range": (10, 30),
    "bg_noise_dir": NOISE_FOLDER,
    "bg_noise_range": (5, 25),
    "unknown_class_percentage": 1.0,
    "silence_class_percentage": 0.6,
}

#: Sizes of the full run and of --quick (a smoke test of the whole path, in seconds).
FULL = {"samples_per_class": 200, "epochs": 15, "noise_seconds": 10.0}
QUICK = {"samples_per_class": 30, "epochs": 2, "noise_seconds": 2.0}

CURVES_SIZE_PX = (960, 380)


def add_parser(subparsers: Any) -> None:
    """Add the ``demo`` command."""
    parser = add_command_parser(
        subparsers,
        "demo",
        usage_tail="[--out DIR] [--quick] [--epochs N] [--samples-per-class N]"
        " [--config FILE] [generator options]",
        help="synthesize a keyword dataset, train a small keyword-spotting CNN on it, report",
        description="Synthesize a keyword dataset (no download), train a small keyword-"
        "spotting CNN on it through ParallelAudioDataGenerator with augmentation, _unknown_, "
        "_silence_ and a validation split, print the throughput and the validation accuracy, "
        "and save the model (model.keras), its data settings (data_config.yaml), the training "
        "curves (training_curves.png) and a preview of the augmented spectrograms "
        "(preview.png). The generator options override the demo's settings.",
    )
    parser.add_argument(
        "--out",
        default="parallel_audio_demo",
        help="output folder; the dataset goes to OUT/data (default: ./parallel_audio_demo)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"a small run to check the whole path: {QUICK['samples_per_class']} clips per "
        f"class, {QUICK['epochs']} epochs",
    )
    parser.add_argument(
        "--epochs", type=int, default=None, help=f"training epochs (default: {FULL['epochs']})"
    )
    parser.add_argument(
        "--samples-per-class",
        type=int,
        default=None,
        help=f"clips synthesized per keyword (default: {FULL['samples_per_class']})",
    )
    parser.add_argument("--batch-size", type=int, default=None, help="batch size (default: 64)")
    parser.add_argument(
        "--seed", type=int, default=None, help="seeds the dataset, the model and the batches (0)"
    )
    parser.add_argument(
        "--verbose",
        type=int,
        choices=(0, 1, 2),
        default=1,
        help="Keras' verbosity: 1 progress bars (default), 2 one line per epoch, 0 silent",
    )
    parser.add_argument(
        "--espeak",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="let a quarter of the speakers be espeak-ng voices (default: when espeak-ng is "
        "installed)",
    )
    add_generator_options(parser)
    parser.set_defaults(run=run)


def demo_settings() -> DataSettings:
    """Return the demo's data settings: classes, generator options and frontend."""
    return DataSettings(
        generator_kwargs=dict(DEMO_GENERATOR_OPTIONS),
        frontend=dict(DEMO_FRONTEND),
        classes=list(CLASSES),
        seed=0,
        batch_size=64,
    )


def run(args: argparse.Namespace) -> int:
    """Run ``demo``."""
    started = time.perf_counter()
    sizes = dict(QUICK if args.quick else FULL)
    if args.epochs is not None:
        sizes["epochs"] = args.epochs
    if args.samples_per_class is not None:
        sizes["samples_per_class"] = args.samples_per_class
    if sizes["epochs"] < 1:
        raise CommandLineError(f"--epochs must be at least 1, got {sizes['epochs']}")
    settings = resolve_settings(args, base=demo_settings())
    generator = build_generator(settings)  # reject bad options before any work
    seed = settings.seed if settings.seed is not None else 0
    out = Path(args.out)
    data = out / "data"

    print(f"1. Synthesizing the dataset in {data}")
    counts = write_keyword_dataset(
        data,
        samples_per_class=sizes["samples_per_class"],
        noise_seconds=sizes["noise_seconds"],
        seed=seed,
        espeak=args.espeak,
    )
    words = sum(count for name, count in counts.items() if name != NOISE_FOLDER)
    print(
        f"   {words} clips of {len(counts) - 1} words, {counts[NOISE_FOLDER]} background "
        f"noise files ({time.perf_counter() - started:.1f} s)"
    )
    # Every setting of the run, not only those given: the file repeats it whatever the defaults.
    complete = settings_from_mapping(generator.get_config(), source="the demo's settings")
    complete.classes = settings.classes or list(CLASSES)
    complete.seed, complete.batch_size = seed, settings.batch_size
    save_config(complete, out / "data_config.yaml")

    print(f"2. Previewing the augmentation: {out / 'preview.png'}")
    from parallel_audio.cli.preview import render_preview

    render_preview(
        settings,
        data,
        settings.classes or CLASSES,
        num_augmented=4,
        png_path=out / "preview.png",
        wav_dir=None,
        seed=seed,
    )

    print("3. Training")
    result = train(
        settings, generator, data, epochs=sizes["epochs"], seed=seed, verbose=args.verbose
    )
    model_path = out / "model.keras"
    result.pop("model").save(model_path)
    plot_curves(result["history"], out / "training_curves.png")

    chance = 1 / len(settings.classes or CLASSES)
    after_first = ", after the first epoch" if sizes["epochs"] > 1 else ""
    print(
        f"\ntraining throughput: {result['samples_per_second']:.0f} samples/s "
        f"(training steps fed by {_workers(result['num_workers'])}{after_first})"
    )
    print(
        f"validation accuracy: {result['val_accuracy']:.3f} on {result['val_samples']} samples "
        f"(chance: {chance:.3f})"
    )
    print(f"model: {model_path}; data settings: {out / 'data_config.yaml'}")
    print(f"training curves: {out / 'training_curves.png'}; preview: {out / 'preview.png'}")
    print(f"total time: {time.perf_counter() - started:.1f} s")
    return 0


def build_model(input_shape: tuple[int, ...], num_classes: int):
    """Return a small keyword-spotting CNN: three convolution blocks and a softmax.

    Parameters
    ----------
    input_shape : tuple of int
        (frames, channels, 1).
    num_classes : int
        Outputs.

    Returns
    -------
    keras.Model
    """
    import keras
    from keras import layers

    inputs = keras.Input(input_shape)
    x = inputs
    for filters, pool in ((16, True), (32, True), (64, False)):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        # Short training: moving statistics must follow the batches within a few dozen steps.
        x = layers.BatchNormalization(momentum=0.9)(x)
        x = layers.ReLU()(x)
        if pool:
            x = layers.MaxPooling2D(2)(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.2)(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="keyword_spotter")


def train(
    settings: DataSettings,
    generator: Any,
    data: str | os.PathLike,
    *,
    epochs: int,
    seed: int,
    verbose: int,
) -> dict[str, Any]:
    """Fit the model on the training subset, validating on the validation subset.

    Returns
    -------
    dict
        ``model``, ``history`` (Keras' history dict), ``samples_per_second`` (training
        samples over the time of the training steps, after the first epoch when there are
        several), ``val_accuracy``, ``val_samples`` and ``num_workers``.
    """
    import keras

    from parallel_audio.pool.options import resolve_num_workers

    classes = settings.classes or CLASSES
    flow = {"classes": classes, "batch_size": settings.batch_size or 64, "seed": seed}
    with (
        generator.flow_from_directory(data, subset="training", **flow) as train_data,
        generator.flow_from_directory(data, subset="validation", shuffle=False, **flow) as val,
    ):
        print(f"   training: {_counts(train_data)}")
        print(f"   validation: {_counts(val)}")
        keras.utils.set_random_seed(seed)
        model = build_model(train_data.process_params.sample_shape, len(classes))
        steps = epochs * len(train_data)
        schedule = keras.optimizers.schedules.CosineDecay(3e-3, decay_steps=steps, alpha=0.05)
        model.compile(
            optimizer=keras.optimizers.Adam(schedule),
            loss="categorical_crossentropy",
            metrics=["accuracy"],
        )
        timer = _training_timer()
        history = model.fit(
            train_data, validation_data=val, epochs=epochs, verbose=verbose, callbacks=[timer]
        )
        val_accuracy = float(model.evaluate(val, verbose=0, return_dict=True)["accuracy"])
        # The first epoch also builds and compiles the model's graph: leave it out if there
        # are others.
        timed = timer.epoch_seconds[1:] or timer.epoch_seconds
    return {
        "model": model,
        "history": history.history,
        "samples_per_second": len(timed) * train_data.samples / max(sum(timed), 1e-9),
        "val_accuracy": val_accuracy,
        "val_samples": val.samples,
        "num_workers": resolve_num_workers(generator.cores),
    }


def _workers(count: int) -> str:
    if count == 0:
        return "the training process itself"
    return f"{count} worker process{'' if count == 1 else 'es'}"


def _counts(iterator: Any) -> str:
    counts = dict.fromkeys(iterator.class_indices, 0)
    names = list(iterator.class_indices)
    for class_id in iterator.classes:
        counts[names[class_id]] += 1
    listing = ", ".join(f"{name} {count}" for name, count in counts.items())
    return f"{iterator.samples} samples ({listing})"


def _training_timer() -> Any:
    """Return a Keras callback that times each epoch's training steps, validation excluded."""
    import keras

    class TrainingTimer(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.epoch_seconds: list[float] = []
            self._start = self._last = 0.0

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self._start = self._last = time.perf_counter()

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            self._last = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            self.epoch_seconds.append(self._last - self._start)

    return TrainingTimer()


def plot_curves(history: dict[str, list[float]], path: str | os.PathLike) -> None:
    """Write loss and accuracy per epoch, training and validation, as a PNG of CURVES_SIZE_PX."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    dpi = 100
    figure = Figure(figsize=(CURVES_SIZE_PX[0] / dpi, CURVES_SIZE_PX[1] / dpi), dpi=dpi)
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, 2)
    for ax, metric in zip(axes, ("loss", "accuracy"), strict=True):
        for prefix, label in (("", "training"), ("val_", "validation")):
            values = history.get(prefix + metric)
            if values:
                ax.plot(range(1, len(values) + 1), values, marker="o", label=label)
        ax.set_xlabel("epoch")
        ax.set_title(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    figure.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=dpi)
