"""Time-stepped simulation of a converted spiking network, compiled with ``tf.function``.

The network is feed-forward, so the simulator walks its layers once per *chunk* of ``chunk_size`` time
steps: a synaptic layer (Conv2D, Dense, pooling, ...) processes all steps of the chunk as one batched
operation, and an integrate-and-fire layer then runs its recurrence step by step over the chunk. Membrane
potentials are carried from chunk to chunk in a ``tf.while_loop``, so memory is bounded by the chunk, not by
``timesteps``. The default chunk is one step: on CPU it measured as fast as larger chunks or faster (up to 1.5x)
and uses far less memory; ``chunk_size`` lets accelerators batch several steps per synaptic op. Tensors that
are constant in time (the analog input and everything computed from it before
the first neuron layer) are computed once per batch.

The readout accumulates the output layer's value over time; the prediction at step t is the argmax of the
sum over steps 1..t, so one run gives the accuracy at every t ≤ T.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
import weakref

import keras
import numpy as np
import tensorflow as tf

from spkeras import distribute, graph, validation
from spkeras.calibrate import iterate_batches
from spkeras.layers import IntegrateAndFire
from spkeras.layers.encoders import ENCODINGS, encode_chunk

logger = logging.getLogger(__name__)

DEFAULT_CHUNK_SIZE = 1


@dataclasses.dataclass
class SimulationResult:
    """What one simulation run measured.

    Attributes:
        timesteps: Number of simulated steps T.
        accuracy: Accuracy after each step, shape ``(T,)``; ``accuracy[t-1]`` is the accuracy at step t.
        layer_names: Names of the spiking layers, in network order.
        spikes_per_step: Mean spikes per image emitted by each spiking layer at each step, shape ``(T, L)``.
            For augmented spikes this is the sum of the coefficients ``|k|``.
        events_per_step: Mean spike *events* per image (steps with a non-zero output), shape ``(T, L)``;
            equal to ``spikes_per_step`` except for augmented spikes.
        num_images: Number of evaluated images.
        wall_time: Seconds spent simulating (including compilation).
        encoding: Input encoding used.
    """

    timesteps: int
    accuracy: np.ndarray
    layer_names: list[str]
    spikes_per_step: np.ndarray
    num_images: int
    wall_time: float
    encoding: str = "analog"
    events_per_step: np.ndarray | None = None

    def accuracy_at(self, step: int) -> float:
        """Accuracy after ``step`` time steps (1 ≤ step ≤ T)."""
        if not 1 <= step <= self.timesteps:
            raise ValueError(f"`step` must be in [1, {self.timesteps}]. Received: step={step!r}.")
        return float(self.accuracy[step - 1])

    def spikes_per_image(self, step: int | None = None) -> float:
        """Mean number of spikes per image over all layers during steps 1..step (default: all T)."""
        step = self.timesteps if step is None else step
        return float(self.spikes_per_step[:step].sum())

    def spikes_per_layer(self, step: int | None = None) -> dict[str, float]:
        """Mean spikes per image of each spiking layer during steps 1..step (default: all T)."""
        step = self.timesteps if step is None else step
        totals = self.spikes_per_step[:step].sum(axis=0)
        return {name: float(total) for name, total in zip(self.layer_names, totals)}

    def report_steps(self) -> list[int]:
        """Powers of two up to T, and T itself."""
        steps = [2**k for k in range(int(math.log2(self.timesteps)) + 1)]
        return steps if steps[-1] == self.timesteps else steps + [self.timesteps]

    def table(self, steps: list[int] | None = None, reference_accuracy: float | None = None) -> str:
        """A plain-text table of accuracy and spikes per image at the given steps."""
        steps = self.report_steps() if steps is None else steps
        lines = []
        if reference_accuracy is not None:
            lines.append(f"ANN accuracy: {reference_accuracy:.4f}")
        lines.append(f"{'t':>6}  {'SNN accuracy':>12}  {'spikes/image':>13}")
        for step in steps:
            lines.append(f"{step:>6}  {self.accuracy_at(step):>12.4f}  {self.spikes_per_image(step):>13.1f}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """A JSON-serialisable dictionary of the result."""
        return {
            "timesteps": self.timesteps,
            "encoding": self.encoding,
            "num_images": self.num_images,
            "wall_time_s": self.wall_time,
            "accuracy": [float(a) for a in self.accuracy],
            "layer_names": list(self.layer_names),
            "spikes_per_image_per_layer": self.spikes_per_layer(),
            "spikes_per_image": self.spikes_per_image(),
            "events_per_image": float(self.events_per_step.sum()) if self.events_per_step is not None else None,
        }


_SIMULATORS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def get_simulator(snn, timesteps, chunk_size=None, encoding="analog", jit_compile=False) -> Simulator:
    """Returns the :class:`Simulator` for these settings, reusing the compiled one of an earlier call.

    Repeated ``evaluate`` calls on the same model then trace the time loop once instead of once per call.
    """
    if not isinstance(snn, keras.Model):
        raise TypeError(f"`snn` must be a converted keras.Model. Received: {type(snn).__name__}.")
    key = (timesteps, chunk_size, encoding, bool(jit_compile))
    cache = _SIMULATORS.setdefault(snn, {})
    if key not in cache:
        cache[key] = Simulator(snn, timesteps, chunk_size=chunk_size, encoding=encoding, jit_compile=jit_compile)
    return cache[key]


def _largest_divisor_at_most(number: int, limit: int) -> int:
    for candidate in range(min(number, limit), 0, -1):
        if number % candidate == 0:
            return candidate
    return 1


class Simulator:
    """Compiles the time loop of one spiking model for a fixed number of steps.

    Args:
        snn: A model returned by :func:`spkeras.convert` (or loaded from its ``.keras`` file).
        timesteps: Number of steps T.
        chunk_size: Steps processed per layer sweep (memory ∝ chunk_size); rounded down to a divisor of T.
        encoding: Input encoding: ``"analog"``, ``"poisson"`` or ``"count"`` (see :mod:`spkeras.layers.encoders`).
        jit_compile: Compile the whole loop with XLA.

    Examples:
        >>> # simulator = Simulator(snn, timesteps=64); correct, spikes = simulator.run_batch(x, y)
    """

    def __init__(
        self,
        snn,
        timesteps: int,
        chunk_size: int | None = None,
        encoding="analog",
        jit_compile=False,
        require_neurons=True,
    ):
        if not isinstance(snn, keras.Model):
            raise TypeError(f"`snn` must be a converted keras.Model. Received: {type(snn).__name__}.")
        if encoding not in ENCODINGS:
            raise ValueError(f"`encoding` must be one of {ENCODINGS}. Received: encoding={encoding!r}.")
        self.timesteps = validation.check_timesteps(timesteps)
        requested = DEFAULT_CHUNK_SIZE if chunk_size is None else validation.check_timesteps(chunk_size, "chunk_size")
        self.chunk_size = _largest_divisor_at_most(self.timesteps, requested)
        self.encoding = encoding
        self.nodes = graph.model_graph(snn)
        self.neuron_positions = [i for i, node in enumerate(self.nodes) if isinstance(node.layer, IntegrateAndFire)]
        if not self.neuron_positions and require_neurons:
            raise ValueError(
                f"Model '{snn.name}' has no IntegrateAndFire layers. Received: an ANN. Convert it first with "
                "spkeras.convert(model, x_calibration)."
            )
        self.layer_names = [self.nodes[i].layer.name for i in self.neuron_positions]
        self.input_shape = tuple(snn.inputs[0].shape[1:])
        self.num_classes = int(snn.outputs[0].shape[-1])
        self.traces = 0
        # (Compiling each neuron step alone with XLA to fuse its elementwise ops was measured: no gain on CPU.)
        self._steps = [self._counting_step(self.nodes[i].layer) for i in self.neuron_positions]
        self.run_batch = tf.function(
            self._run_batch,
            input_signature=[
                tf.TensorSpec((None,) + self.input_shape, tf.float32),
                tf.TensorSpec((None,), tf.int64),
                tf.TensorSpec((2,), tf.int64),
            ],
            jit_compile=jit_compile,
            # The loops are explicit tf.while_loops; without AutoGraph nothing re-reads this file's source,
            # which also keeps long runs safe while the installed source changes.
            autograph=False,
        )

    def compiled(self, method):
        """``method(x, seed)`` compiled once for any batch size (for :func:`record` and :func:`max_input_current`)."""
        return tf.function(
            method,
            autograph=False,
            input_signature=[tf.TensorSpec((None,) + self.input_shape, tf.float32), tf.TensorSpec((2,), tf.int64)],
        )

    @staticmethod
    def _counting_step(layer):
        def step(current, state):
            output, state, spikes = layer.step(current, state)
            count = tf.reduce_sum(tf.abs(spikes) if layer.signed_spikes else spikes)
            event = tf.cast(tf.math.count_nonzero(spikes), tf.float32) if layer.graded_spikes else count
            return output, state, count, event

        return step

    # -- graph walk ----------------------------------------------------------------------------------------

    def _apply(self, layer, arguments, batch):
        """Applies a synaptic layer to static (B, ...) or dynamic (C, B, ...) tensors."""
        if not any(dynamic for dynamic, _ in arguments):
            values = [value for _, value in arguments]
            return False, graph.call_layer(layer, values)
        chunk = self.chunk_size
        merged = []
        for dynamic, value in arguments:
            if not dynamic:
                value = tf.broadcast_to(value[None], tf.concat([[chunk], tf.shape(value)], axis=0))
            merged.append(tf.reshape(value, tf.concat([[chunk * batch], tf.shape(value)[2:]], axis=0)))
        output = graph.call_layer(layer, merged)
        return True, tf.reshape(output, tf.concat([[chunk, batch], tf.shape(output)[1:]], axis=0))

    def _static_prefix(self, x):
        """Values of all layers that do not depend on time (computed once per batch)."""
        if self.encoding != "analog":
            return {}
        values = {0: x}
        for position, node in enumerate(self.nodes[1:], start=1):
            if isinstance(node.layer, IntegrateAndFire) or any(i not in values for i in node.inputs):
                continue
            values[position] = graph.call_layer(node.layer, [values[i] for i in node.inputs])
        return values

    def _chunk(self, x, static, states, batch, chunk_index, seed, trains=None):
        """Runs ``chunk_size`` steps.

        Returns:
            The output (C, B, K), the new states, the spikes per step and layer (C, L) summed over the batch,
            the spike events per step and layer (C, L), and per layer the values emitted during the chunk
            summed over its steps (B, ...).
        """
        values = {position: (False, value) for position, value in static.items()}
        if 0 not in values:
            first_step = chunk_index * self.chunk_size
            values[0] = (True, encode_chunk(x, self.encoding, first_step, self.chunk_size, seed))
        new_states = list(states)
        spike_counts, event_counts, emitted = [], [], []
        for position, node in enumerate(self.nodes):
            if position in values:
                continue
            arguments = [values[i] for i in node.inputs]
            layer = node.layer
            if isinstance(layer, IntegrateAndFire):
                slot = self.neuron_positions.index(position)
                dynamic, current = arguments[0]
                state = states[slot]
                outputs, counts, events = [], [], []
                step_function = self._steps[slot]
                for step in range(self.chunk_size):
                    output, state, count, event = step_function(current[step] if dynamic else current, state)
                    outputs.append(output)
                    counts.append(count)
                    events.append(event)
                new_states[slot] = state
                values[position] = (True, tf.stack(outputs))
                if trains is not None:
                    trains.append(tf.stack(outputs))
                spike_counts.append(tf.stack(counts))
                event_counts.append(tf.stack(events))
                emitted.append(tf.add_n(outputs))
            else:
                values[position] = self._apply(layer, arguments, batch)
        dynamic, output = values[len(self.nodes) - 1]
        if not dynamic:
            output = tf.broadcast_to(output[None], tf.concat([[self.chunk_size], tf.shape(output)], axis=0))
        if spike_counts:
            spikes = (tf.stack(spike_counts, axis=1), tf.stack(event_counts, axis=1))
        else:
            spikes = (tf.zeros([self.chunk_size, 0]), tf.zeros([self.chunk_size, 0]))
        return tf.cast(output, tf.float32), new_states, spikes, emitted

    def _loop(self, x, body, seed):
        """Runs all chunks; ``body(chunk_index, chunk_results, carry) -> carry`` folds each chunk's results."""
        batch = tf.shape(x)[0]
        static = self._static_prefix(x)
        states = [self.nodes[i].layer.initial_state(batch) for i in self.neuron_positions]
        chunks = self.timesteps // self.chunk_size

        def step(index, states, carry):
            output, states, spikes, emitted = self._chunk(x, static, states, batch, index, seed)
            return index + 1, states, body(index, (output, spikes, emitted), carry)

        return lambda carry: tf.while_loop(lambda index, *_: index < chunks, step, (tf.constant(0), states, carry))[2]

    def _run_batch(self, x, y, seed):
        self.traces += 1
        batch = tf.shape(x)[0]
        chunks = self.timesteps // self.chunk_size
        layers = len(self.neuron_positions)

        def body(index, results, carry):
            output, (spike_counts, event_counts), _ = results
            accumulated, correct, spikes, events = carry
            running = accumulated + tf.cumsum(output, axis=0)
            predictions = tf.argmax(running, axis=-1, output_type=tf.int64)
            hits = tf.reduce_sum(tf.cast(tf.equal(predictions, y[None, :]), tf.float32), axis=1)
            return (
                running[-1],
                correct.write(index, hits),
                spikes.write(index, spike_counts),
                events.write(index, event_counts),
            )

        carry = (
            tf.zeros([batch, self.num_classes], tf.float32),
            tf.TensorArray(tf.float32, size=chunks, element_shape=[self.chunk_size]),
            tf.TensorArray(tf.float32, size=chunks, element_shape=[self.chunk_size, layers]),
            tf.TensorArray(tf.float32, size=chunks, element_shape=[self.chunk_size, layers]),
        )
        _, correct, spikes, events = self._loop(x, body, seed)(carry)
        return (
            tf.reshape(correct.stack(), [self.timesteps]),
            tf.reshape(spikes.stack(), [self.timesteps, layers]),
            tf.reshape(events.stack(), [self.timesteps, layers]),
        )

    def _run_record(self, x, seed):
        self.traces += 1
        batch = tf.shape(x)[0]

        def body(index, results, carry):
            output, _, emitted = results
            accumulated, totals = carry
            return accumulated + tf.reduce_sum(output, axis=0), [t + e for t, e in zip(totals, emitted)]

        totals = [
            tf.zeros(tf.concat([[batch], self.nodes[i].layer.feature_shape], axis=0), tf.float32)
            for i in self.neuron_positions
        ]
        initial = (tf.zeros([batch, self.num_classes], tf.float32), totals)
        accumulated, totals = self._loop(x, body, seed)(initial)
        steps = float(self.timesteps)
        return accumulated / steps, [total / steps for total in totals]

    def _run_output_max(self, x, seed):
        def body(index, results, carry):
            output = results[0]
            return tf.maximum(carry, tf.reduce_max(tf.reshape(output, [-1, tf.shape(output)[-1]]), axis=0))

        return self._loop(x, body, seed)(tf.fill([self.num_classes], tf.float32.min))


def spike_trains(snn: keras.Model, x, timesteps: int = 32) -> dict[str, np.ndarray]:
    """The value emitted by every spiking layer at every step, for a few images (for rasters and debugging).

    Memory grows with ``timesteps × images × neurons``: use it on a handful of images.

    Returns:
        A dict mapping each spiking layer's name to an array of shape ``(T, N) + layer shape``.

    Examples:
        >>> # trains = spike_trains(snn, x_test[:1], timesteps=32); trains["re_lu"].shape[0] == 32
    """
    simulator = Simulator(snn, timesteps, chunk_size=timesteps)
    x = validation.check_array_inputs(x, simulator.input_shape, "x")

    @tf.function(autograph=False)
    def run(batch):
        size = tf.shape(batch)[0]
        states = [simulator.nodes[i].layer.initial_state(size) for i in simulator.neuron_positions]
        trains = []
        static = simulator._static_prefix(batch)
        simulator._chunk(batch, static, states, size, tf.constant(0), tf.constant([0, 0], tf.int64), trains)
        return trains

    trains = run(tf.convert_to_tensor(np.asarray(x, dtype="float32")))
    return {name: train.numpy() for name, train in zip(simulator.layer_names, trains)}


def max_input_current(model: keras.Model, x, timesteps: int, batch_size: int = 100) -> np.ndarray:
    """Simulates a (partial) spiking model and returns the largest per-step value of its output, per channel.

    Used to calibrate thresholds on the SNN itself (channel-wise threshold balancing): ``model`` ends at the
    input current of the layer being calibrated.

    Examples:
        >>> # currents = max_input_current(keras.Model(snn.inputs, neuron_layer.input), x_calibration, 32)
    """
    simulator = Simulator(model, timesteps, require_neurons=False)
    function = simulator.compiled(simulator._run_output_max)
    largest = None
    for index, batch in enumerate(iterate_batches(x, batch_size)):
        value = function(batch, tf.constant([0, index], tf.int64)).numpy()
        largest = value if largest is None else np.maximum(largest, value)
    return largest.astype("float64")


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
        >>> # rates = spkeras.simulate.record(snn, x[:10], timesteps=256); rates["output"].shape
    """
    simulator = Simulator(snn, timesteps, chunk_size=chunk_size, encoding=encoding)
    batch_size = validation.check_batch_size(batch_size)
    x = validation.check_array_inputs(x, simulator.input_shape, "x")
    function = simulator.compiled(simulator._run_record)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in simulator.layer_names + ["output"]}
    for index, batch in enumerate(iterate_batches(x, batch_size)):
        output, layer_values = function(batch, tf.constant([seed, index], tf.int64))
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
            (Bernoulli spikes with probability x per step) or ``"count"`` (x·T spikes spread evenly).
        jit_compile: Compile the time loop with XLA.
        seed: Seed of the ``"poisson"`` encoding; the same seed gives the same result.
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
    x = validation.check_array_inputs(x, simulator.input_shape, "x")
    labels = validation.check_labels(y, len(x), simulator.num_classes)
    correct = np.zeros(simulator.timesteps)
    spikes = np.zeros((simulator.timesteps, len(simulator.layer_names)))
    events = np.zeros_like(spikes)
    progress = keras.utils.Progbar(len(x), verbose=1 if verbose else 0, unit_name="image")
    strategy = distribute.resolve_strategy(strategy)

    def batch_results():
        """Yields ``(images done, [(correct, spikes, events) per replica])`` for each (global) batch."""
        if strategy is not None:
            run = distribute.replicated(strategy, simulator._run_batch)
            arrays = (np.asarray(x, dtype="float32"), labels)
            for index, (batch, batch_labels) in distribute.distributed_batches(strategy, arrays, batch_size):
                yield (index + 1) * batch_size, run(batch, batch_labels, tf.constant([seed, index], tf.int64))
            return
        for index, (start, batch) in enumerate(zip(range(0, len(x), batch_size), iterate_batches(x, batch_size))):
            batch_labels = tf.constant(labels[start : start + batch_size])
            parts = simulator.run_batch(batch, batch_labels, tf.constant([seed, index], tf.int64))
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
