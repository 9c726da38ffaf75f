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
from spkeras.simulate.baseline import ann_accuracy, check_ann
from spkeras.simulate.decode import readout_of
from spkeras.simulate.expectations import check_input_range, resolve_timesteps
from spkeras.simulate.result import SimulationResult
from spkeras.simulate.simulator import get_simulator

logger = logging.getLogger(__name__)


def spike_trains(snn: keras.Model, x, timesteps: int | None = None) -> dict[str, np.ndarray]:
    """The value emitted by every spiking layer at every step, for a few images (for rasters and debugging).

    Memory grows with ``timesteps × images × neurons``: use it on a handful of images. ``timesteps`` defaults to
    the T the model was converted for (see :func:`evaluate`).

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
    simulator = get_simulator(snn, resolve_timesteps(snn, timesteps))
    x = simulator.check_inputs(x)
    check_input_range(snn, x)
    trains = simulator.spike_trains(tf.convert_to_tensor(np.asarray(x, dtype="float32")), tf.constant([0, 0], tf.int64))
    return {name: train.numpy() for name, train in zip(simulator.layer_names, trains)}


def record(
    snn: keras.Model,
    x,
    timesteps: int | None = None,
    *,
    batch_size: int = 100,
    chunk_size: int | None = None,
    encoding: str = "analog",
    seed: int = 0,
    strategy=None,
) -> dict:
    """Simulates ``snn`` and returns the mean value per step of every spiking layer and of the output.

    The mean value per step is the firing rate (``spike_value="unit"``) or rate × θ
    (``spike_value="threshold"``); the output entry is the mean output current, comparable to the ANN's
    logits. Use it to measure per-layer rate errors against the ANN.

    Args:
        snn: A converted model.
        x: Inputs, float array shaped like the model input.
        timesteps: Number of steps T; default: the T the model was converted for (see :func:`evaluate`).
        batch_size: Images simulated together (the global batch under a strategy).
        chunk_size: Time steps per layer sweep.
        encoding: Input encoding (see :func:`evaluate`).
        seed: Seed of the ``"poisson"`` encoding.
        strategy: A ``tf.distribute.Strategy`` (see :func:`evaluate`); every worker gets every image's values.

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
    simulator = get_simulator(snn, resolve_timesteps(snn, timesteps), chunk_size=chunk_size, encoding=encoding)
    batch_size = validation.check_batch_size(batch_size)
    strategy = distribute.resolve_strategy(strategy)
    x = simulator.check_inputs(x) if strategy is None else distribute.check_metadata(simulator.check_inputs, x)
    seed = validation.check_seed(seed)
    budget.check_simulation(simulator, len(x), batch_size)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in simulator.layer_names + ["output"]}
    if strategy is not None:

        def shard_values(first, batch):
            output, layer_values = simulator.mean_values(batch, tf.stack([tf.constant(seed, tf.int64), first]))
            return [output] + list(layer_values)

        kinds = ["rows"] * (len(simulator.layer_names) + 1)
        sharded = list(distribute.run_checked(strategy, shard_values, kinds, (x,), batch_size))
        check_input_range(snn, None, summary=sharded[-1][2], encoding=encoding)
        batches = (values for _, values, _ in sharded)
    else:
        check_input_range(snn, x, encoding=encoding)
        batches = (
            [output.numpy()] + [value.numpy() for value in layer_values]
            for start, batch in iterate_batches(x, batch_size, with_start=True)
            for output, layer_values in [simulator.mean_values(batch, tf.constant([seed, start], tf.int64))]
        )
    for output, *layer_values in batches:
        parts["output"].append(output)
        for name, value in zip(simulator.layer_names, layer_values):
            parts[name].append(value)
    return {name: np.concatenate(values) for name, values in parts.items()}


def evaluate(
    snn: keras.Model,
    x,
    y,
    timesteps: int | None = None,
    *,
    batch_size: int = 100,
    chunk_size: int | None = None,
    encoding: str = "analog",
    jit_compile: bool = False,
    seed: int = 0,
    strategy=None,
    ann: keras.Model | None = None,
    verbose: bool = False,
) -> SimulationResult:
    """Simulates ``snn`` for ``timesteps`` steps on ``x`` and measures accuracy at every step.

    Args:
        snn: A spiking model from :func:`spkeras.convert` (or loaded from its ``.keras`` file).
        x: Test inputs, float NumPy array of shape ``(N,) + input_shape``, scaled as for the ANN.
        y: Labels: integers of shape ``(N,)`` or one-hot ``(N, classes)``.
        timesteps: Number of time steps T. Default: the T the model was converted (and calibrated) for, which
            every spiking layer stores; models that do not say (e.g. imported from another tool's NIR graph)
            run 64 steps.
        batch_size: Images simulated together (the global batch under a strategy).
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
            global batch). Defaults to the strategy whose ``scope()`` is active, if any. Under
            ``MultiWorkerMirroredStrategy`` every worker reads only its rows of each batch and gets the one-process
            result (see docs/scaling.md).
        ann: The source ANN: its accuracy on the same data goes into the result (``ann_accuracy``, the
            ``ANN - SNN`` column of :meth:`~SimulationResult.table`, ``to_dict()`` and :meth:`~SimulationResult.plot`).
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
    timesteps = resolve_timesteps(snn, timesteps)
    simulator = get_simulator(snn, timesteps, chunk_size=chunk_size, encoding=encoding, jit_compile=jit_compile)
    batch_size = validation.check_batch_size(batch_size)
    strategy = distribute.resolve_strategy(strategy)
    x = simulator.check_inputs(x) if strategy is None else distribute.check_metadata(simulator.check_inputs, x)
    heads = readout_of(snn).heads
    if heads is not None:
        raise ValueError(
            f"evaluate measures the classification accuracy of one output; '{snn.name}' has {len(heads)} outputs "
            f"({', '.join(f'{name} x{units}' for name, units in heads)}). Received: a multi-output model. Use "
            "spkeras.simulate.score(snn, x, [y1, y2, ...], metrics) for a metric per output at every step, or "
            "spkeras.predict for the outputs themselves."
        )
    labels = validation.check_labels(y, len(x), simulator.num_classes)
    seed = validation.check_seed(seed)
    if ann is not None:
        check_ann(ann, encoding)
    if strategy is None:
        check_input_range(snn, x, encoding=encoding)
    budget.check_simulation(simulator, len(x), batch_size)
    correct = np.zeros(simulator.timesteps)
    spikes = np.zeros((simulator.timesteps, len(simulator.layer_names)))
    events = np.zeros_like(spikes)
    progress = progress_bar(len(x), verbose, unit_name="image", label=f"simulation (T={simulator.timesteps})")
    if strategy is not None:

        def shard_counts(first, batch, batch_labels):
            return simulator.run_batch(batch, batch_labels, tf.stack([tf.constant(seed, tf.int64), first]))

        batches = distribute.run_checked(strategy, shard_counts, ("sum",) * 3, (x, labels), batch_size)
    else:
        batches = (
            (start + len(batch), [part.numpy() for part in parts], None)
            for start, batch in iterate_batches(x, batch_size, with_start=True)
            for parts in [
                simulator.run_batch(
                    batch, tf.constant(labels[start : start + len(batch)]), tf.constant([seed, start], tf.int64)
                )
            ]
        )
    summary = None
    for done, (batch_correct, batch_spikes, batch_events), batch_summary in batches:
        correct += batch_correct
        spikes += batch_spikes
        events += batch_events
        summary = batch_summary
        progress.update(done)
    if summary is not None:
        check_input_range(snn, None, summary=summary, encoding=encoding)
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
        ann_accuracy=None if ann is None else ann_accuracy(ann, x, labels, batch_size, strategy=strategy),
    )
