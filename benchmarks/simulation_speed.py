"""Simulation speed against the T × ANN bar, closed-form cost, and peak memory.

For each model (the MNIST reference CNN and a CIFAR-10 VGG-small of the methods benchmark; trained weights are
not needed for timing, so untrained models of the same shape are used), batch size and T, one subprocess
measures:

- ANN time: one compiled forward pass of the BN-folded ANN on the batch (median of repeats);
- SNN time: one compiled simulation of the batch for T steps (median of repeats, after a warm-up);
- ratio = SNN / (T × ANN) (the target is ≤ 1.3 at T = 32), and image·steps per second;
- closed form: the analytic estimate's time relative to one ANN pass (target ≤ 1.5);
- peak resident memory of the process (ru_maxrss).

A last row evaluates all 10,000 MNIST test images at T = 256 through ``spkeras.evaluate`` (streamed batches
and time chunks) and reports its peak RSS (target < 2 GB).

Usage:
    python benchmarks/simulation_speed.py [--quick] [--chunk-sizes 1 4 16] [--output FILE.json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import pathlib
import resource
import subprocess
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from common import RESULTS, machine, markdown_table, write_json  # noqa: E402


def _mnist_model():
    import keras

    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(16, 3),
            layers.BatchNormalization(),
            layers.ReLU(),
            layers.AveragePooling2D(2),
            layers.Conv2D(32, 3),
            layers.BatchNormalization(),
            layers.ReLU(),
            layers.AveragePooling2D(2),
            layers.Flatten(),
            layers.Dense(10),
        ],
        name="mnist_cnn",
    )


def _cifar_model():
    import keras

    layers = keras.layers
    blocks = [keras.Input((32, 32, 3))]
    for filters in (32, 32, None, 64, 64, None):
        if filters is None:
            blocks.append(layers.AveragePooling2D(2))
        else:
            blocks += [layers.Conv2D(filters, 3, padding="same"), layers.BatchNormalization(), layers.ReLU()]
    blocks += [layers.Flatten(), layers.Dense(128), layers.ReLU(), layers.Dense(10)]
    return keras.Sequential(blocks, name="cifar_vgg_small")


def _median_time(function, repeats):
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return sorted(times)[len(times) // 2]


def measure_one(model_name, batch_size, timesteps, chunk_size, repeats):
    """Runs in a subprocess: times ANN, SNN and the closed form for one configuration."""
    import keras
    import numpy as np
    import tensorflow as tf

    import spkeras
    from spkeras.analytic import closed_form_model
    from spkeras.conversion import fold_model
    from spkeras.simulate import Simulator

    keras.utils.set_random_seed(0)
    model = _mnist_model() if model_name == "mnist" else _cifar_model()
    shape = tuple(model.inputs[0].shape[1:])
    x = np.random.default_rng(0).uniform(0, 1, (batch_size,) + shape).astype("float32")
    y = np.zeros(batch_size, "int64")
    snn = spkeras.convert(model, x[:200], method="ecc", timesteps=timesteps)
    folded = fold_model(model)
    ann = tf.function(lambda batch: folded(batch, training=False))
    x_tensor, y_tensor, seed = tf.constant(x), tf.constant(y), tf.constant([0, 0], tf.int64)
    ann(x_tensor).numpy()
    ann_time = _median_time(lambda: ann(x_tensor).numpy(), max(repeats * 3, 5))
    simulator = Simulator(snn, timesteps, chunk_size=chunk_size)
    run = lambda: [value.numpy() for value in simulator.run_batch(x_tensor, y_tensor, seed)]  # noqa: E731
    simulator.run_batch(x_tensor[:2], y_tensor[:2], seed)  # traces the loop (the batch axis is dynamic)
    snn_time = _median_time(run, repeats)
    closed = closed_form_model(snn)
    steps = tf.constant(float(timesteps))
    closed(x_tensor, steps)[0].numpy()
    closed_time = _median_time(lambda: closed(x_tensor, steps)[0].numpy(), max(repeats * 3, 5))
    return {
        "model": model_name,
        "batch_size": batch_size,
        "timesteps": timesteps,
        "chunk_size": simulator.chunk_size,
        "ann_time_s": ann_time,
        "snn_time_s": snn_time,
        "ratio_snn_over_T_ann": snn_time / (timesteps * ann_time),
        "image_steps_per_s": batch_size * timesteps / snn_time,
        "closed_form_over_ann": closed_time / ann_time,
        "traces": simulator.traces,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def measure_full_mnist(timesteps, batch_size):
    """Runs in a subprocess: evaluates all MNIST test images and reports time and peak memory."""
    import numpy as np
    from common import load_mnist

    import spkeras

    data = load_mnist()
    cnn = spkeras.load_model(spkeras.demo.DEMO_MODEL_PATH)
    snn = spkeras.convert(cnn, spkeras.demo.load_sample()["x_calibration"], method="ecc", timesteps=timesteps)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = spkeras.evaluate(snn, data["x_test"], data["y_test"], timesteps=timesteps, batch_size=batch_size)
    return {
        "model": "demo MNIST CNN, 10,000 test images",
        "batch_size": batch_size,
        "timesteps": timesteps,
        "accuracy_at_T": float(result.accuracy[-1]),
        "wall_time_s": result.wall_time,
        "image_steps_per_s": len(data["x_test"]) * timesteps / result.wall_time,
        "peak_rss_mb_before_evaluate": before,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "mean_accuracy_check": float(np.mean(result.accuracy[-8:])),
    }


def _subprocess(arguments: list[str]) -> dict:
    completed = subprocess.run(
        [sys.executable, __file__, *arguments],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    if completed.returncode != 0:
        raise SystemExit(f"measurement {arguments} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer configurations and repeats")
    parser.add_argument("--chunk-sizes", type=int, nargs="+", default=[None], help="time steps per layer sweep")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-full", action="store_true", help="skip the 10,000-image memory run")
    parser.add_argument("--all", action="store_true", help="also CIFAR at batch 1000 and T=256 (slow on CPU)")
    parser.add_argument("--output", default=str(RESULTS / "simulation_speed.json"))
    parser.add_argument("--single", nargs=4, metavar=("MODEL", "BATCH", "T", "CHUNK"), help=argparse.SUPPRESS)
    parser.add_argument("--full", nargs=2, metavar=("T", "BATCH"), help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if arguments.single:
        model, batch, steps, chunk = arguments.single
        chunk = None if chunk == "None" else int(chunk)
        print(json.dumps(measure_one(model, int(batch), int(steps), chunk, arguments.repeats)))
        return 0
    if arguments.full:
        print(json.dumps(measure_full_mnist(int(arguments.full[0]), int(arguments.full[1]))))
        return 0

    if arguments.quick:
        configurations = [("mnist", 100, 32)]
    else:
        configurations = [
            (model, batch, steps) for model in ("mnist", "cifar") for batch in (100, 1000) for steps in (32, 256)
        ]
        # CIFAR at batch 1000 and T = 256 is 12.8 TFLOP per repeat (minutes on 2 cores): skipped unless asked.
        if not arguments.all:
            configurations.remove(("cifar", 1000, 256))
    rows, records = [], []
    for (model, batch, timesteps), chunk in itertools.product(configurations, arguments.chunk_sizes):
        record = _subprocess(["--single", model, str(batch), str(timesteps), str(chunk)])
        records.append(record)
        rows.append(
            [
                model,
                batch,
                timesteps,
                record["chunk_size"],
                f"{record['ann_time_s'] * 1000:.1f}",
                f"{record['snn_time_s'] * 1000:.0f}",
                f"{record['ratio_snn_over_T_ann']:.2f}",
                f"{record['image_steps_per_s']:.0f}",
                f"{record['closed_form_over_ann']:.2f}",
                f"{record['peak_rss_mb']:.0f}",
            ]
        )
        print(" | ".join(str(cell) for cell in rows[-1]), file=sys.stderr)
    header = ["model", "batch", "T", "chunk", "ANN ms", "SNN ms", "SNN/(T×ANN)", "img·steps/s", "closed/ANN", "RSS MB"]
    print(markdown_table(header, rows))
    report = {"machine": machine(), "configurations": records}
    if not arguments.skip_full:
        full = _subprocess(["--full", "256", "100"])
        report["full_mnist"] = full
        print(
            f"\nAll 10,000 MNIST test images at T=256: {full['wall_time_s']:.1f} s, "
            f"{full['image_steps_per_s']:.0f} image·steps/s, peak RSS {full['peak_rss_mb']:.0f} MB, "
            f"accuracy {full['accuracy_at_T']:.4f}"
        )
    path = write_json(report, pathlib.Path(arguments.output))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
