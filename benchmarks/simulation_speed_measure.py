"""What one subprocess of benchmarks/simulation_speed.py measures: ANN, SNN and closed-form times of one
configuration, or the full MNIST test set's time and peak memory; not a script."""

from __future__ import annotations

import resource
import time

from simulation_speed_models import timing_setup


def median_time(function, repeats):
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return sorted(times)[len(times) // 2]


def measure_one(model_name, batch_size, timesteps, chunk_size, repeats):
    """Runs in a subprocess: times ANN, SNN and the closed form for one configuration."""
    import tensorflow as tf

    from spkeras.analytic import closed_form_model
    from spkeras.simulate import Simulator

    snn, ann, x_tensor, y_tensor, seed = timing_setup(model_name, batch_size, timesteps)
    ann(x_tensor).numpy()
    ann_time = median_time(lambda: ann(x_tensor).numpy(), max(repeats * 3, 5))
    simulator = Simulator(snn, timesteps, chunk_size=chunk_size)
    run = lambda: [value.numpy() for value in simulator.run_batch(x_tensor, y_tensor, seed)]  # noqa: E731
    simulator.run_batch(x_tensor[:2], y_tensor[:2], seed)  # traces the loop (the batch axis is dynamic)
    snn_time = median_time(run, repeats)
    closed = closed_form_model(snn)
    steps = tf.constant(float(timesteps))
    closed(x_tensor, steps)[0].numpy()
    closed_time = median_time(lambda: closed(x_tensor, steps)[0].numpy(), max(repeats * 3, 5))
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
