"""One network of benchmarks/peers.py through both frameworks: the trained Keras model, its PyTorch port, each
side's most accurate mode and the timed runs at every T and batch size; not a script."""

from __future__ import annotations

import sys
import time
from unittest import mock

import numpy as np
from common import compiled_ann, load_cifar, load_mnist
from peers_measure import (
    choose_torch_threads,
    keras_ann_side,
    spikingjelly_accuracy_curve,
    spikingjelly_convert,
    spikingjelly_side,
    spkeras_side,
    time_sides,
    torch_ann_side,
)
from peers_port import port_to_torch, verify_port

TITLES = {"resnet": "CIFAR-10 ResNet-8 (16/32/64)", "vgg": "CIFAR-10 VGG-small", "mnist": "MNIST CNN"}
#: spikingjelly RateCodingRecipe settings tried; the most accurate one (mean accuracy over T) is timed.
SJ_MODES = {
    "max": {"mode": "Max"},
    "99.9%": {"mode": "99.9%"},
    "channel 99.9% half": {"mode": "99.9%", "channel_wise": True, "half_threshold": True},
}
#: spkeras conversions tried (``spkeras.convert`` options); the most accurate one (mean accuracy over T) is timed.
#: Threshold calibration changes only the thresholds, so its simulation costs the same as plain ``ecc``; the
#: default conversion is ``ecc`` with ``percentile=99.9``; the symmetric signed neurons (``negative_threshold=0``)
#: take back spikes fired on early input (docs/calibration.md, "Lowest latency") at some cost per step.
SPKERAS_MODES = {
    "ecc": {"method": "ecc"},
    "ecc + threshold calibration": {"method": "ecc", "calibrate": "threshold"},
    "default (ecc, percentile 99.9)": {},
    "termapping f=0": {"method": "termapping", "negative_threshold": 0.0, "v_init": 0.5},
    "termapping f=0 + threshold calibration": {
        "method": "termapping",
        "negative_threshold": 0.0,
        "v_init": 0.5,
        "calibrate": "threshold",
    },
}
#: The mode selection simulates up to this T (accuracy at every T ≤ it from one run).
SELECTION_MAX_T = 32


def load_keras_model(name: str, data, quick_epochs: int):
    """The cached reference network of the benchmarks, or a short seeded version (cached apart) if none exists."""
    import low_latency_networks
    import methods_comparison_networks

    cache = methods_comparison_networks.CACHE
    cache_name = low_latency_networks.CACHE_NAMES[name]
    if (cache / f"{cache_name}_reference.keras").is_file():
        model, info = low_latency_networks.load_network(name, data)
        return model, {**info, "source": "benchmark cache (full training)"}
    quick = cache / "peers_quick"
    epochs = {"CIFAR_EPOCHS": quick_epochs, "MNIST_EPOCHS": 1}
    with mock.patch.multiple(methods_comparison_networks, CACHE=quick, **epochs):
        model, info = low_latency_networks.load_network(name, data)
    return model, {**info, "source": f"short training ({quick_epochs} CIFAR epochs / 1 MNIST epoch), {quick}"}


def run_model(name, arguments) -> dict:
    import keras
    import torch

    import spkeras

    data = load_mnist() if name == "mnist" else load_cifar()
    from methods_comparison_networks import SEED

    rng = np.random.default_rng(SEED)
    calibration = data["x_train"][np.sort(rng.choice(len(data["x_train"]), arguments.calibration_images, False))]
    count = max([arguments.images] + arguments.batch_sizes)
    x, y = data["x_test"][:count], data["y_test"][:count]
    model, training = load_keras_model(name, data, arguments.quick_epochs)
    ann_accuracy = float(np.mean(np.argmax(model.predict(x, batch_size=500, verbose=0), -1) == y))
    print(f"[{name}] ANN accuracy {ann_accuracy:.4f} on {len(x)} test images", file=sys.stderr, flush=True)
    small = min(arguments.images, len(x))
    ann_accuracy_small = float(np.mean(np.argmax(model.predict(x[:small], verbose=0), -1) == y[:small]))

    port = port_to_torch(model)
    port_error = verify_port(model, port, x[:8])
    with torch.inference_mode():
        port_logits = port(torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))).numpy()
    port_accuracy = float(np.mean(np.argmax(port_logits, -1) == y))
    print(f"[{name}] PyTorch port: max |Δlogit| {port_error:.2e}, accuracy {port_accuracy:.4f}", file=sys.stderr)

    steps, largest = sorted(arguments.timesteps), max(arguments.timesteps)
    keras.utils.set_random_seed(SEED)
    torch.manual_seed(SEED)
    count = min(arguments.select_images, len(x))
    select_steps = [t for t in steps if t <= SELECTION_MAX_T] or steps[:1]

    # Each side's mode: the most accurate candidate (mean accuracy over T) on the first selection images.
    spkeras_selection, spkeras_converted = {}, {}
    for mode, options in SPKERAS_MODES.items():
        started = time.perf_counter()
        spkeras_converted[mode] = spkeras.convert(model, calibration, timesteps=largest, **options)
        seconds = time.perf_counter() - started
        evaluation = spkeras.evaluate(spkeras_converted[mode], x[:count], y[:count], timesteps=select_steps[-1])
        curve = [float(evaluation.accuracy[t - 1]) for t in select_steps]
        spkeras_selection[mode] = {"convert_s": seconds, "accuracy": dict(zip(map(str, select_steps), curve))}
        print(f"[{name}] spkeras {mode}: {[round(a, 3) for a in curve]}", file=sys.stderr, flush=True)
    spkeras_mode = max(spkeras_selection, key=lambda mode: np.mean(list(spkeras_selection[mode]["accuracy"].values())))
    snn = spkeras_converted[spkeras_mode]

    selection = {}
    converted = {}
    for mode, settings in SJ_MODES.items():
        started = time.perf_counter()
        converted[mode] = spikingjelly_convert(port, calibration, settings)
        if not selection:
            choose_torch_threads(converted[mode], x, y, 100, steps[0])
        seconds = time.perf_counter() - started
        curve = spikingjelly_accuracy_curve(converted[mode], x[:count], y[:count], select_steps[-1], select_steps, 100)
        selection[mode] = {"convert_s": seconds, "accuracy": dict(zip(map(str, select_steps), curve))}
        print(f"[{name}] spikingjelly {mode}: {[round(a, 3) for a in curve]}", file=sys.stderr, flush=True)
    best = max(selection, key=lambda mode: np.mean(list(selection[mode]["accuracy"].values())))
    sj_snn = converted[best]

    results = []
    ann = compiled_ann(model)  # the T×ANN bar, folded and traced once for every T and batch size
    for batch_size in arguments.batch_sizes:
        # Batches larger than --images: one batch of that size, at --large-batch-timesteps only (time budget).
        large = batch_size > arguments.images
        images = batch_size if large else arguments.images
        xs, ys = x[:images], y[:images]
        threads = choose_torch_threads(sj_snn, xs, ys, batch_size, steps[0])
        for timesteps in sorted(arguments.large_batch_timesteps) if large else steps:
            sides = [spkeras_side(snn, timesteps), spikingjelly_side(sj_snn, timesteps)]
            sides += [keras_ann_side(ann, timesteps), torch_ann_side(port, timesteps)]
            measured = time_sides(sides, xs, ys, batch_size, arguments.repeats)
            row = {"batch_size": batch_size, "timesteps": timesteps, "images": images, "torch_threads": threads}
            for side, values in measured.items():
                row[side] = {**values, "image_steps_per_s": images * timesteps / values["time_s"]}
            speed = {side: row[side]["image_steps_per_s"] for side in measured}
            row["throughput_ratio"] = speed["spkeras"] / speed["spikingjelly"]
            # What T dense ANN passes reach against spikingjelly: the ceiling of any dense simulator on these kernels.
            row["ann_bound_ratio"] = speed["keras_ann"] / speed["spikingjelly"]
            row["spkeras_over_T_ann"] = speed["keras_ann"] / speed["spkeras"]
            row["spikingjelly_over_T_torch_ann"] = speed["torch_ann"] / speed["spikingjelly"]
            results.append(row)
            print(
                f"[{name}] batch {batch_size} T {timesteps}: spkeras {row['spkeras']['image_steps_per_s']:.0f} "
                f"img·steps/s ({row['spkeras']['accuracy']:.3f}), spikingjelly "
                f"{row['spikingjelly']['image_steps_per_s']:.0f} ({row['spikingjelly']['accuracy']:.3f}), "
                f"ratio {row['throughput_ratio']:.2f} (T ANN passes: {row['ann_bound_ratio']:.2f}; spkeras / T ANN "
                f"{row['spkeras_over_T_ann']:.2f})",
                file=sys.stderr,
                flush=True,
            )
    return {
        "title": TITLES[name],
        "training": training,
        "test_images": len(x),
        "calibration_images": len(calibration),
        "ann_accuracy": ann_accuracy,
        "ann_accuracy_first_images": {"images": small, "accuracy": ann_accuracy_small},
        "port_max_abs_logit_error": port_error,
        "port_accuracy": port_accuracy,
        "spkeras": {
            "mode": spkeras_mode,
            "options": SPKERAS_MODES[spkeras_mode],
            "encoding": "analog",
            "selection_images": count,
            "selection": spkeras_selection,
        },
        "spikingjelly": {
            "recipe": "RateCodingRecipe",
            "mode": best,
            "settings": SJ_MODES[best],
            "step_mode": "single-step, T forward calls summed",
            "selection_images": count,
            "selection": selection,
        },
        "results": results,
    }
