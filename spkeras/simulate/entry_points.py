"""The public ways to simulate a converted network: :func:`evaluate`, :func:`record` and :func:`spike_trains`.

Each goes through the cached :class:`~spkeras.simulate.simulator.Simulator` of its model (see
:func:`~spkeras.simulate.simulator.get_simulator`), so repeated calls compile the time loop once.
"""

from __future__ import annotations

import logging
import time

import keras
import numpy as np
import tensorflow as tf

from spkeras import distribute, validation
from spkeras.batching import iterate_batches
from spkeras.progress import progress_bar
from spkeras.simulate import budget
from spkeras.simulate.result import SimulationResult
from spkeras.simulate.simulator import get_simulator

logger = logging.getLogger(__name__)


def spike_trains(snn: keras.Model, x, timesteps: int = 32) -> dict[str, np.ndarray]:
    """The value emitted by every spiking layer at every step, for a few images (for rasters and debugging).

    Memory grows with ``timesteps × images × neurons``: use it on a handful of images.

    Returns:
        A dict mapping each spiking layer's name to an array of shape ``(T, N) + layer shape``.

    Examples:
        >>> import spkeras
        >>> sample = spkeras.demo.load_sample()
        >>> snn = spkeras.convert(spkeras.demo.DEMO_MODEL_PATH, sample["x_calibration"][:50])
        >>> trains = spike_trains(snn, sample["x_test"][:2], timesteps=16)
        >>> [train.shape[:2] for train in trains.values()]
        [(16, 2), (16, 2)]
    """
    simulator = get_simulator(snn, timesteps)
    x = simulator.check_inputs(x)
    trains = simulator.spike_trains(tf.convert_to_tensor(np.asarray(x, dtype="float32")), tf.constant([0, 0], tf.int64))
    return {name: train.numpy() for name, train in zip(simulator.layer_names, trains)}


def record(
    snn: keras.Model,
    x,
    timesteps: int = 64,
    *,
    batch_size: int = 100,
    chunk_size: int | None = None,
    encoding: str = "analog",
    seed: int = 0,
) -> dict:
    """Simulates ``snn`` and returns the mean value per step of every spiking layer and of the output.

    The mean value per step is the firing rate (``spike_value="unit"``) or rate × θ
    (``spike_value="threshold"``); the output entry is the mean output current, comparable to the ANN's
    logits. Use it to measure per-layer rate errors against the ANN.

    Args:
        snn: A converted model.
        x: Inputs, float array shaped like the model input.
        timesteps: Number of steps T.
        batch_size: Images simulated together.
        chunk_size: Time steps per layer sweep.
        encoding: Input encoding (see :func:`evaluate`).
        seed: Seed of the ``"poisson"`` encoding.

    Returns:
        A dict mapping each spiking layer's name (and ``"output"``) to an array of shape ``(N,) + layer shape``.

    Examples:
        >>> import spkeras
        >>> sample = spkeras.demo.load_sample()
        >>> snn = spkeras.convert(spkeras.demo.DEMO_MODEL_PATH, sample["x_calibration"][:50])
        >>> rates = record(snn, sample["x_test"][:4], timesteps=16)
        >>> rates["output"].shape
        (4, 10)
    """
    simulator = get_simulator(snn, timesteps, chunk_size=chunk_size, encoding=encoding)
    batch_size = validation.check_batch_size(batch_size)
    x = simulator.check_inputs(x)
    seed = validation.check_seed(seed)
    budget.check_simulation(simulator, len(x), batch_size)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in simulator.layer_names + ["output"]}
    for start, batch in iterate_batches(x, batch_size, with_start=True):
        output, layer_values = simulator.mean_values(batch, tf.constant([seed, start], tf.int64))
        parts["output"].append(output.numpy())
        for name, value in zip(simulator.layer_names, layer_values):
            parts[name].append(value.numpy())
    return {name: np.concatenate(values) for name, values in parts.items()}


def evaluate(
    snn: keras.Model,
    x,
    y,
    timesteps: int = 64,
    *,
    batch_size: int = 100,
    chunk_size: int | None = None,
    encoding: str = "analog",
    jit_compile: bool = False,
    seed: int = 0,
    strategy=None,
    verbose: bool = False,
) -> SimulationResult:
    """Simulates ``snn`` for ``timesteps`` steps on ``x`` and measures accuracy at every step.

    Args:
        snn: A spiking model from :func:`spkeras.convert` (or loaded from its ``.keras`` file).
        x: Test inputs, float NumPy array of shape ``(N,) + input_shape``, scaled as for the ANN.
        y: Labels: integers of shape ``(N,)`` or one-hot ``(N, classes)``.
        timesteps: Number of time steps T.
        batch_size: Images simulated together.
        chunk_size: Time steps per layer sweep (memory ∝ batch_size × chunk_size); default 1, which measured
            fastest and leanest on CPU (benchmarks/simulation_speed.py). Larger chunks turn each synaptic layer
            into one op over ``chunk_size`` steps, which can pay off on accelerators.
        encoding: ``"analog"`` (the image is a constant input current every step, default), ``"poisson"``
            (Bernoulli spikes with probability x per step), ``"count"`` (x·T spikes spread evenly) or
            ``"events"`` (``x`` holds event sequences ``(N, bins) + input_shape``, e.g. DVS events binned into
            frames; step t receives bin t, so ``bins >= timesteps``).
        jit_compile: Compile the time loop with XLA.
        seed: Seed of the ``"poisson"`` encoding; the same seed gives the same spikes for any ``batch_size`` (each
            draw depends on the seed, the image's index in ``x``, the step and the pixel).
        strategy: A ``tf.distribute.Strategy`` to split each batch across devices (``batch_size`` is then the
            global batch). Defaults to the strategy whose ``scope()`` is active, if any.
        verbose: Show a progress bar.

    Returns:
        A :class:`SimulationResult` with accuracy at every t ≤ T and spike counts per layer.

    Examples:
        >>> import spkeras
        >>> sample = spkeras.demo.load_sample()
        >>> snn = spkeras.convert(spkeras.demo.DEMO_MODEL_PATH, sample["x_calibration"][:200])
        >>> result = spkeras.evaluate(snn, sample["x_test"][:100], sample["y_test"][:100], timesteps=32)
        >>> result.accuracy_at(32) > 0.9
        True
    """
    started = time.perf_counter()
    simulator = get_simulator(snn, timesteps, chunk_size=chunk_size, encoding=encoding, jit_compile=jit_compile)
    batch_size = validation.check_batch_size(batch_size)
    x = simulator.check_inputs(x)
    labels = validation.check_labels(y, len(x), simulator.num_classes)
    seed = validation.check_seed(seed)
    budget.check_simulation(simulator, len(x), batch_size)
    correct = np.zeros(simulator.timesteps)
    spikes = np.zeros((simulator.timesteps, len(simulator.layer_names)))
    events = np.zeros_like(spikes)
    progress = progress_bar(len(x), verbose, unit_name="image")
    strategy = distribute.resolve_strategy(strategy)

    def batch_results():
        """Yields ``(images done, [(correct, spikes, events) per replica])`` for each (global) batch."""
        if strategy is not None:
            run = distribute.replicated(strategy, simulator.batch_counts)
            arrays = (np.asarray(x, dtype="float32"), labels)
            for index, (batch, batch_labels) in distribute.distributed_batches(strategy, arrays, batch_size):
                start = index * batch_size
                yield start + batch_size, run(batch, batch_labels, tf.constant([seed, start], tf.int64))
            return
        for start, batch in iterate_batches(x, batch_size, with_start=True):
            batch_labels = tf.constant(labels[start : start + batch_size])
            parts = simulator.run_batch(batch, batch_labels, tf.constant([seed, start], tf.int64))
            yield start + batch_size, [[part.numpy() for part in parts]]

    for done, replicas in batch_results():
        for batch_correct, batch_spikes, batch_events in replicas:
            correct += batch_correct
            spikes += batch_spikes
            events += batch_events
        progress.update(min(done, len(x)))
    wall_time = time.perf_counter() - started
    logger.info("Simulated %d images for %d steps in %.2f s.", len(x), timesteps, wall_time)
    return SimulationResult(
        timesteps=simulator.timesteps,
        accuracy=correct / len(x),
        layer_names=simulator.layer_names,
        spikes_per_step=spikes / len(x),
        num_images=len(x),
        wall_time=wall_time,
        encoding=encoding,
        events_per_step=events / len(x),
    )
