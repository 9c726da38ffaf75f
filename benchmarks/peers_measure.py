"""The two simulators of benchmarks/peers.py: spikingjelly's ann2snn conversion and runs, spkeras's Simulator, and
their alternating timing; not a script."""

from __future__ import annotations

import time

import numpy as np

try:  # optional: everything below that needs torch is only called after peers_missing() said it is there
    import torch
except ImportError:
    torch = None
DEFAULT_TORCH_THREADS = torch.get_num_threads() if torch is not None else 1


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


def keras_ann_side(ann, timesteps):
    """T passes of the compiled, BN-folded Keras ANN (``common.compiled_ann``) per batch: what a simulator whose
    neuron update cost nothing would cost with TensorFlow's synaptic kernels (the bar of the strict ratio)."""
    import tensorflow as tf

    def prepare(x, y):
        return tf.constant(x), y

    def run_batch(batch):
        for _ in range(timesteps):
            output = ann(batch[0])
        return int(np.sum(np.argmax(output.numpy(), -1) == batch[1]))

    return Side("keras_ann", prepare, run_batch)


def torch_ann_side(port, timesteps):
    """T passes of the PyTorch port per batch (the same bar on torch's kernels)."""

    def prepare(x, y):
        return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))), y

    def run_batch(batch):
        with torch.inference_mode():
            for _ in range(timesteps):
                output = port(batch[0])
        return int(np.sum(output.argmax(1).numpy() == batch[1]))

    return Side("torch_ann", prepare, run_batch)


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
