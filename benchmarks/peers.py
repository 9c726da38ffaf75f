"""spkeras against spikingjelly's ann2snn, side by side in one process run (issue 29 part 4).

Usage:
    python benchmarks/peers.py [--models vgg resnet mnist] [--timesteps 4 8 16 32 64] [--batch-sizes 100 1000]
        [--images 300] [--large-batch-timesteps 32] [--calibration-images 500] [--quick-epochs 10]
        [--output FILE.json]

Needs the optional extra ``peers``: CPU torch and spikingjelly (light install: ``pip install torch==2.13.0 tqdm
loguru`` and ``pip install spikingjelly --no-deps``); without them it prints why and exits 0.

For each network (the CIFAR-10 VGG-small and the MNIST CNN of benchmarks/methods_comparison.py, the ResNet-8 of
benchmarks/low_latency.py), in one process:

1. The trained Keras model comes from the benchmark cache (``benchmarks/cache/``, shared with
   methods_comparison.py / low_latency.py). When that cache is empty a short seeded version is trained with the
   same recipe and ``--quick-epochs`` epochs and cached separately (``benchmarks/cache/peers_quick/``); the JSON
   says which was used.
2. It is ported weight for weight to PyTorch (:func:`port_to_torch`: BatchNorm folded into the convolution before
   it, exactly as spkeras folds it; the Dense kernel after a Flatten permuted from NHWC to NCHW order) and the port
   is verified: the PyTorch logits equal the Keras logits within 1e-4 on a few images.
3. spkeras converts the Keras model and spikingjelly the PyTorch port (``ann2snn.Converter(RateCodingRecipe(...))``),
   each in the mode that is most accurate (mean over T ≤ 32) on the first ``--select-images`` test images among
   its candidates: :data:`SPKERAS_MODES` (``ecc``, with and without post-conversion threshold calibration) and
   :data:`SJ_MODES` (layer-wise max / 99.9 % and channel-wise 99.9 % with half-threshold start).
   Both calibrate on the same training images.
4. For every T and batch size both simulate the same test images with analog (direct) input for exactly T steps
   (batches up to ``--images``: the first ``--images`` test images at every T; a larger batch: one batch of the
   first batch-size images at ``--large-batch-timesteps``, by default T = 32 only, to fit a run on 2 CPUs):
   spkeras through a compiled :class:`spkeras.simulate.Simulator`, spikingjelly in its documented single-step
   loop (``reset_net``, then T forward calls summed) under ``torch.inference_mode``, with torch's intra-op threads
   set to the faster of 1 and its default for each batch size (:func:`choose_torch_threads`; TensorFlow keeps its
   default thread pools). The two sides alternate (the order flips every repeat); each timing is the median of
   ``--repeats`` passes over all images, after a warm-up batch. Accuracy at T comes from the timed run.

Output: a table per network (image·steps/s and accuracy for both, and the throughput ratio spkeras /
spikingjelly) and ``benchmarks/results/peers.json``.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import os
import pathlib
import sys
import time
from unittest import mock

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from common import RESULTS, load_cifar, load_mnist, machine, markdown_table, write_json  # noqa: E402

MODELS = ("vgg", "resnet", "mnist")
TITLES = {"resnet": "CIFAR-10 ResNet-8 (16/32/64)", "vgg": "CIFAR-10 VGG-small", "mnist": "MNIST CNN"}
#: spikingjelly RateCodingRecipe settings tried; the most accurate one (mean accuracy over T) is timed.
SJ_MODES = {
    "max": {"mode": "Max"},
    "99.9%": {"mode": "99.9%"},
    "channel 99.9% half": {"mode": "99.9%", "channel_wise": True, "half_threshold": True},
}
#: spkeras conversions tried (``spkeras.convert`` options); the most accurate one (mean accuracy over T) is timed.
#: Threshold calibration changes only the thresholds, so its simulation costs the same as plain ``ecc``.
SPKERAS_MODES = {
    "ecc": {"method": "ecc"},
    "ecc + threshold calibration": {"method": "ecc", "calibrate": "threshold"},
}
PORT_TOLERANCE = 1e-4
#: The mode selection simulates up to this T (accuracy at every T ≤ it from one run).
SELECTION_MAX_T = 32

try:  # optional: everything below that needs torch is only called after peers_missing() said it is there
    import torch
    from torch import nn
except ImportError:
    torch = nn = None
DEFAULT_TORCH_THREADS = torch.get_num_threads() if torch is not None else 1


def peers_missing() -> str | None:
    """Why the peers cannot run (a missing package), or None."""
    if torch is None:
        return "torch is not installed (pip install 'spkeras[peers]' or pip install torch==2.13.0)"
    try:
        from spikingjelly.activation_based import ann2snn  # noqa: F401
    except ImportError as error:
        return f"spikingjelly is not importable ({error}); pip install tqdm loguru; pip install spikingjelly --no-deps"
    return None


# --- the trained Keras models -------------------------------------------------------------------------------


def load_keras_model(name: str, data, quick_epochs: int):
    """The cached reference network of the benchmarks, or a short seeded version (cached apart) if none exists."""
    import low_latency
    import methods_comparison_networks

    cache = methods_comparison_networks.CACHE
    cache_name = low_latency.CACHE_NAMES[name]
    if (cache / f"{cache_name}_reference.keras").is_file():
        model, info = low_latency.load_network(name, data)
        return model, {**info, "source": "benchmark cache (full training)"}
    quick = cache / "peers_quick"
    epochs = {"CIFAR_EPOCHS": quick_epochs, "MNIST_EPOCHS": 1}
    with mock.patch.multiple(methods_comparison_networks, CACHE=quick, **epochs):
        model, info = low_latency.load_network(name, data)
    return model, {**info, "source": f"short training ({quick_epochs} CIFAR epochs / 1 MNIST epoch), {quick}"}


# --- the PyTorch port ---------------------------------------------------------------------------------------


def port_to_torch(model):
    """A PyTorch module computing the same logits as the Keras ``model`` (inputs NCHW).

    Supported layers: Conv2D (valid/same padding with symmetric or TensorFlow-style asymmetric padding, strides,
    linear/ReLU activation), BatchNormalization (folded into the Conv2D/Dense feeding only it; otherwise an exact
    ``BatchNorm2d``), ReLU, AveragePooling2D, MaxPooling2D, GlobalAveragePooling2D, Flatten, Dense, Dropout, Add.
    """
    import keras

    layers = keras.layers
    consumers: dict[str, list[str]] = {}
    for layer in model.layers:
        for parent in _parents(layer):
            consumers.setdefault(parent, []).append(layer.name)
    folded_into: dict[str, object] = {}  # conv/dense name -> the BN folded into it
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            (parent,) = _parents(layer)
            source = model.get_layer(parent)
            if isinstance(source, (layers.Conv2D, layers.Dense)) and consumers[parent] == [layer.name]:
                if source.activation is keras.activations.linear:
                    folded_into[parent] = layer
    steps, modules = [], nn.ModuleDict()
    for layer in model.layers:
        parents = _parents(layer)
        if isinstance(layer, layers.InputLayer):
            continue
        if isinstance(layer, layers.BatchNormalization) and parents[0] in folded_into:
            steps.append((layer.name, parents, None))  # an alias of its (folded) parent
            continue
        module = _torch_layer(layer, folded_into.get(layer.name), model, layers, keras)
        key = f"m{len(modules)}"
        modules[key] = module
        steps.append((layer.name, parents, key))
    return _Port(steps, modules, model.inputs[0]._keras_history.operation.name)


def _parents(layer) -> list[str]:
    node = layer._inbound_nodes[0]
    return [tensor._keras_history.operation.name for tensor in node.input_tensors]


def _torch_layer(layer, batch_norm, model, layers, keras):
    if isinstance(layer, (layers.Conv2D, layers.Dense)):
        kernel = np.asarray(keras.ops.convert_to_numpy(layer.kernel), dtype="float64")
        bias = (
            np.asarray(keras.ops.convert_to_numpy(layer.bias), dtype="float64")
            if layer.use_bias
            else np.zeros(kernel.shape[-1])
        )
        if batch_norm is not None:
            scale, shift = _batch_norm_affine(batch_norm, keras)
            kernel, bias = kernel * scale, bias * scale + shift
        if isinstance(layer, layers.Conv2D):
            if layer.groups != 1 or tuple(layer.dilation_rate) != (1, 1):
                raise NotImplementedError(f"{layer.name}: grouped or dilated convolutions are not ported")
            height, width = kernel.shape[:2]
            conv = nn.Conv2d(kernel.shape[2], kernel.shape[3], (height, width), stride=tuple(layer.strides))
            conv.weight.data = torch.tensor(kernel.transpose(3, 2, 0, 1), dtype=torch.float32)
            conv.bias.data = torch.tensor(bias, dtype=torch.float32)
            body = conv
            if layer.padding == "same":
                input_size = layer.input.shape[1:3]
                pads = [_same_padding(int(n), k, s) for n, k, s in zip(input_size, (height, width), layer.strides)]
                (top, bottom), (left, right) = pads
                conv.padding = (top, left)
                if (bottom, right) != (top, left):  # TensorFlow pads one more at the end
                    body = nn.Sequential(_PadEnd(bottom - top, right - left), conv)
        else:
            source = model.get_layer(_parents(layer)[0])
            if isinstance(source, layers.Flatten) and len(source.input.shape) == 4:
                # Keras flattens (H, W, C); the port flattens NCHW as (C, H, W).
                _, h, w, c = source.input.shape
                kernel = kernel.reshape(h, w, c, -1).transpose(2, 0, 1, 3).reshape(h * w * c, -1)
            body = nn.Linear(kernel.shape[0], kernel.shape[1])
            body.weight.data = torch.tensor(kernel.T.copy(), dtype=torch.float32)
            body.bias.data = torch.tensor(bias, dtype=torch.float32)
        activation = layer.activation
        if activation is keras.activations.linear:
            return body
        if activation is keras.activations.relu:
            return nn.Sequential(body, nn.ReLU())
        raise NotImplementedError(f"{layer.name}: activation {activation.__name__} is not ported")
    if isinstance(layer, layers.BatchNormalization):
        scale, shift = _batch_norm_affine(layer, keras)
        module = nn.BatchNorm2d(len(scale), eps=0.0, affine=True)
        module.weight.data = torch.tensor(scale, dtype=torch.float32)
        module.bias.data = torch.tensor(shift, dtype=torch.float32)
        return module.eval()
    if isinstance(layer, layers.ReLU):
        if layer.max_value is not None or float(layer.negative_slope) != 0 or float(layer.threshold) != 0:
            raise NotImplementedError(f"{layer.name}: only plain ReLU is ported")
        return nn.ReLU()
    if isinstance(layer, layers.Activation) and layer.activation is keras.activations.relu:
        return nn.ReLU()
    if isinstance(layer, (layers.AveragePooling2D, layers.MaxPooling2D)):
        if layer.padding != "valid":
            raise NotImplementedError(f"{layer.name}: only valid pooling is ported")
        kind = nn.AvgPool2d if isinstance(layer, layers.AveragePooling2D) else nn.MaxPool2d
        return kind(tuple(layer.pool_size), tuple(layer.strides))
    if isinstance(layer, layers.GlobalAveragePooling2D):
        return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
    if isinstance(layer, layers.Flatten):
        return nn.Flatten()
    if isinstance(layer, layers.Dropout):
        return nn.Identity()
    if isinstance(layer, layers.Add):
        return _Add()
    raise NotImplementedError(f"{layer.name}: {type(layer).__name__} is not ported")


def _batch_norm_affine(layer, keras):
    """BatchNormalization (inference) as ``x * scale + shift``, in float64."""

    def get(name, default):
        value = getattr(layer, name, None)
        return default if value is None else np.asarray(keras.ops.convert_to_numpy(value), dtype="float64")

    mean, variance = get("moving_mean", None), get("moving_variance", None)
    gamma, beta = get("gamma", np.ones_like(mean)), get("beta", np.zeros_like(mean))
    scale = gamma / np.sqrt(variance + layer.epsilon)
    return scale, beta - mean * scale


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's "same" padding (more at the end when odd)."""
    output = -(-size // stride)
    total = max((output - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


if nn is not None:

    class _PadEnd(nn.Module):
        """One zero row / column after the input (with cat and slicing, which spikingjelly's step-mode adapter
        accepts; it refuses nn.ZeroPad2d)."""

        def __init__(self, rows, columns):
            super().__init__()
            self.rows, self.columns = rows, columns

        def forward(self, x):
            if self.rows:
                x = torch.cat([x, x[:, :, -1:] * 0.0], 2)
            if self.columns:
                x = torch.cat([x, x[:, :, :, -1:] * 0.0], 3)
            return x

    class _Add(nn.Module):
        def forward(self, *inputs):
            total = inputs[0]
            for value in inputs[1:]:
                total = total + value
            return total

    class _Port(nn.Module):
        """Runs the ported layers in the Keras model's (topological) order; FX-traceable."""

        def __init__(self, steps, modules, input_name):
            super().__init__()
            self.steps = steps
            self.layers = modules
            self.input_name = input_name

        def forward(self, x):
            values = {self.input_name: x}
            for name, parents, key in self.steps:
                inputs = [values[parent] for parent in parents]
                values[name] = inputs[0] if key is None else self.layers[key](*inputs)
            return values[self.steps[-1][0]]


def verify_port(model, port, images, tolerance=PORT_TOLERANCE) -> float:
    """Largest |Keras logit − PyTorch logit| on ``images``; raises if above ``tolerance``."""
    expected = np.asarray(model(images, training=False))
    with torch.inference_mode():
        actual = port.eval()(torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))).numpy()
    error = float(np.max(np.abs(expected - actual)))
    if not error <= tolerance:
        raise AssertionError(f"the PyTorch port differs from the Keras model by {error:.3g} > {tolerance}")
    return error


# --- the two simulators ---------------------------------------------------------------------------------------


def spikingjelly_convert(port, calibration, settings: dict, batch_size=100):
    """spikingjelly's ann2snn (RateCodingRecipe with ``settings``) applied to a copy of the PyTorch port."""
    import copy

    from spikingjelly.activation_based import ann2snn

    images = torch.from_numpy(np.ascontiguousarray(calibration.transpose(0, 3, 1, 2)))
    loader = [images[start : start + batch_size] for start in range(0, len(images), batch_size)]
    converter = ann2snn.Converter(recipe=ann2snn.RateCodingRecipe(dataloader=loader, **settings), device="cpu")
    return converter.convert(copy.deepcopy(port).eval()).eval()


def spikingjelly_run(snn, images, timesteps):
    """Summed outputs of ``timesteps`` single-step calls on one NCHW batch (the documented ann2snn loop)."""
    from spikingjelly.activation_based import functional

    with torch.inference_mode():
        functional.reset_net(snn)
        output = snn(images)
        for _ in range(timesteps - 1):
            output = output + snn(images)
    return output


def spikingjelly_accuracy_curve(snn, x, y, timesteps, steps, batch_size):
    """Accuracy after each of ``steps`` (≤ ``timesteps``) from one run per batch."""
    from spikingjelly.activation_based import functional

    correct = np.zeros(len(steps))
    for start in range(0, len(x), batch_size):
        images = torch.from_numpy(np.ascontiguousarray(x[start : start + batch_size].transpose(0, 3, 1, 2)))
        labels = y[start : start + batch_size]
        with torch.inference_mode():
            functional.reset_net(snn)
            output = 0
            for t in range(1, timesteps + 1):
                output = output + snn(images)
                if t in steps:
                    correct[steps.index(t)] += np.sum(output.argmax(1).numpy() == labels)
    return (correct / len(x)).tolist()


class Side:
    """One framework's timed pass over all images at one T and batch size."""

    def __init__(self, name, prepare, run_batch):
        self.name, self.prepare, self.run_batch = name, prepare, run_batch

    def timed_pass(self, batches):
        """Seconds for all batches and the number of correct predictions at T."""
        started, correct = time.perf_counter(), 0
        for batch in batches:
            correct += self.run_batch(batch)
        return time.perf_counter() - started, correct


def spkeras_side(snn, timesteps):
    import tensorflow as tf

    from spkeras.simulate import Simulator

    simulator = Simulator(snn, timesteps)
    seed = tf.constant([0, 0], tf.int64)

    def prepare(x, y):
        return tf.constant(x), tf.constant(y)

    def run_batch(batch):
        correct, _, _ = simulator.run_batch(batch[0], batch[1], seed)
        return int(correct.numpy()[-1])

    return Side("spkeras", prepare, run_batch)


def spikingjelly_side(snn, timesteps):
    def prepare(x, y):
        return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))), y

    def run_batch(batch):
        output = spikingjelly_run(snn, batch[0], timesteps)
        return int(np.sum(output.argmax(1).numpy() == batch[1]))

    return Side("spikingjelly", prepare, run_batch)


def choose_torch_threads(snn, x, y, batch_size, timesteps) -> dict:
    """Sets torch's intra-op threads to the faster of 1 and its default for this batch (on a shared or
    oversubscribed CPU, OpenMP with all cores was measured up to 9x slower than one thread); returns the timings."""
    default = DEFAULT_TORCH_THREADS
    side = spikingjelly_side(snn, timesteps)
    batch = side.prepare(x[:batch_size], y[:batch_size])
    seconds = {}
    for threads in sorted({1, default}):
        torch.set_num_threads(threads)
        side.run_batch(batch)
        started = time.perf_counter()
        side.run_batch(batch)
        seconds[threads] = time.perf_counter() - started
    best = min(seconds, key=seconds.get)
    torch.set_num_threads(best)
    return {"threads": best, "probe_s": {str(key): value for key, value in seconds.items()}}


def time_sides(sides, x, y, batch_size, repeats):
    """Times the sides alternately (repeat r: side A, side B, ...; the order flips every repeat) on the same
    batches; returns per side the median time, its accuracy and all times."""
    batches = {
        side.name: [side.prepare(x[i : i + batch_size], y[i : i + batch_size]) for i in range(0, len(x), batch_size)]
        for side in sides
    }
    for side in sides:  # warm-up: tracing, first-call allocations
        side.run_batch(batches[side.name][0])
    times, correct = {side.name: [] for side in sides}, {}
    for repeat in range(repeats):
        for side in sides if repeat % 2 == 0 else sides[::-1]:
            seconds, hits = side.timed_pass(batches[side.name])
            times[side.name].append(seconds)
            correct[side.name] = hits
    return {
        side.name: {
            "time_s": float(np.median(times[side.name])),
            "times_s": times[side.name],
            "accuracy": correct[side.name] / len(x),
        }
        for side in sides
    }


# --- the benchmark -----------------------------------------------------------------------------------------


def run_model(name, arguments) -> dict:
    import keras

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
    for batch_size in arguments.batch_sizes:
        # Batches larger than --images: one batch of that size, at --large-batch-timesteps only (time budget).
        large = batch_size > arguments.images
        images = batch_size if large else arguments.images
        xs, ys = x[:images], y[:images]
        threads = choose_torch_threads(sj_snn, xs, ys, batch_size, steps[0])
        for timesteps in sorted(arguments.large_batch_timesteps) if large else steps:
            sides = [spkeras_side(snn, timesteps), spikingjelly_side(sj_snn, timesteps)]
            measured = time_sides(sides, xs, ys, batch_size, arguments.repeats)
            row = {"batch_size": batch_size, "timesteps": timesteps, "images": images, "torch_threads": threads}
            for side, values in measured.items():
                row[side] = {**values, "image_steps_per_s": images * timesteps / values["time_s"]}
            row["throughput_ratio"] = row["spkeras"]["image_steps_per_s"] / row["spikingjelly"]["image_steps_per_s"]
            results.append(row)
            print(
                f"[{name}] batch {batch_size} T {timesteps}: spkeras {row['spkeras']['image_steps_per_s']:.0f} "
                f"img·steps/s ({row['spkeras']['accuracy']:.3f}), spikingjelly "
                f"{row['spikingjelly']['image_steps_per_s']:.0f} ({row['spikingjelly']['accuracy']:.3f}), "
                f"ratio {row['throughput_ratio']:.2f}",
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


def model_table(entry: dict) -> str:
    rows = [
        [
            row["batch_size"],
            row["timesteps"],
            row["images"],
            row["torch_threads"]["threads"],
            f"{row['spkeras']['image_steps_per_s']:.0f}",
            f"{row['spikingjelly']['image_steps_per_s']:.0f}",
            f"**{row['throughput_ratio']:.2f}**",
            f"{100 * row['spkeras']['accuracy']:.1f}",
            f"{100 * row['spikingjelly']['accuracy']:.1f}",
        ]
        for row in entry["results"]
    ]
    header = [
        "batch",
        "T",
        "images",
        "torch threads",
        "spkeras img·steps/s",
        "spikingjelly img·steps/s",
        "ratio",
        "spkeras %",
        "sj %",
    ]
    return markdown_table(header, rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--timesteps", type=int, nargs="+", default=[4, 8, 16, 32, 64])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--images", type=int, default=300, help="test images (the first N) for batches up to N")
    parser.add_argument(
        "--large-batch-timesteps",
        type=int,
        nargs="+",
        default=[32],
        help="T for batch sizes above --images (one batch of the first batch-size test images)",
    )
    parser.add_argument("--calibration-images", type=int, default=500)
    parser.add_argument("--select-images", type=int, default=100, help="test images used to pick sj's mode")
    parser.add_argument("--repeats", type=int, default=1, help="timed passes per side (median)")
    parser.add_argument("--quick-epochs", type=int, default=10, help="CIFAR epochs when no cached model exists")
    parser.add_argument("--output", default=str(RESULTS / "peers.json"))
    arguments = parser.parse_args(argv)
    missing = peers_missing()
    if missing:
        print(f"peers benchmark skipped: {missing}.")
        return 0
    import tensorflow as tf

    report = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "torch": torch.__version__,
        "spikingjelly": importlib.metadata.version("spikingjelly"),
        "torch_default_threads": DEFAULT_TORCH_THREADS,
        "tensorflow_threads": [tf.config.threading.get_intra_op_parallelism_threads(), os.cpu_count()],
        "arguments": vars(arguments),
        "models": {},
    }
    for name in arguments.models:
        report["models"][name] = run_model(name, arguments)
        write_json(report, pathlib.Path(arguments.output))
    for entry in report["models"].values():
        print(f"\n### {entry['title']} (spikingjelly mode: {entry['spikingjelly']['mode']})\n")
        print(model_table(entry))
    print(f"\nwrote {arguments.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
