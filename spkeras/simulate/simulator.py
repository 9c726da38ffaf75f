"""Time-stepped simulation of a converted spiking network, compiled with ``tf.function``.

The network is feed-forward, so the simulator walks its layers once per *chunk* of ``chunk_size`` time
steps: a synaptic layer (Conv2D, Dense, pooling, ...) processes all steps of the chunk as one batched
operation, and an integrate-and-fire layer then runs its recurrence step by step over the chunk. Membrane
potentials are carried from chunk to chunk in a ``tf.while_loop``, so memory is bounded by the chunk, not by
``timesteps``. The default chunk is one step: on CPU it measured as fast as larger chunks or faster and uses far
less memory; ``chunk_size`` lets accelerators batch several steps per synaptic op. Tensors that
are constant in time (the analog input and everything computed from it before the first neuron layer) are
computed once per batch.

The readout accumulates the output layer's value over time; the prediction at step t is the argmax of the
sum over steps 1..t, so one run gives the accuracy at every t ≤ T.
"""

from __future__ import annotations

import logging
import weakref

import keras
import numpy as np
import tensorflow as tf

from spkeras import graph, validation
from spkeras.layers.encoders import ENCODINGS, encode_chunk
from spkeras.network import spiking_network
from spkeras.simulate import budget
from spkeras.simulate.measurements import ChunkResult, MeasurementsMixin

logger = logging.getLogger(__name__)

DEFAULT_CHUNK_SIZE = 1

_SIMULATORS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def get_simulator(
    snn, timesteps, chunk_size=None, encoding="analog", jit_compile=False, require_neurons=True
) -> Simulator:
    """Returns the :class:`Simulator` for these settings, reusing the compiled one of an earlier call.

    Repeated ``evaluate``/``record`` calls on the same model then trace the time loop once instead of once per call.

    Examples:
        >>> import spkeras
        >>> snn = spkeras.convert(spkeras.demo.DEMO_MODEL_PATH, spkeras.demo.load_sample()["x_calibration"][:50])
        >>> get_simulator(snn, 8) is get_simulator(snn, 8)
        True
    """
    if not isinstance(snn, keras.Model):
        raise TypeError(f"`snn` must be a converted keras.Model. Received: {type(snn).__name__}.")
    key = (timesteps, chunk_size, encoding, bool(jit_compile), bool(require_neurons))
    cache = _SIMULATORS.setdefault(snn, {})
    if key not in cache:
        cache[key] = Simulator(snn, timesteps, chunk_size, encoding, jit_compile, require_neurons)
    return cache[key]


def _largest_divisor_at_most(number: int, limit: int) -> int:
    for candidate in range(min(number, limit), 0, -1):
        if number % candidate == 0:
            return candidate
    return 1


class Simulator(MeasurementsMixin):
    """Compiles the time loop of one spiking model for a fixed number of steps.

    Args:
        snn: A model returned by :func:`spkeras.convert` (or loaded from its ``.keras`` file).
        timesteps: Number of steps T.
        chunk_size: Steps processed per layer sweep (memory ∝ chunk_size); rounded down to a divisor of T.
        encoding: Input encoding: ``"analog"``, ``"poisson"``, ``"count"`` or ``"events"`` (inputs of shape
            ``(batch, bins) + input_shape``, one bin per step; see :mod:`spkeras.layers.encoders`).
        jit_compile: Compile the whole loop (and every measurement) with XLA.
        require_neurons: Refuse models without spiking layers (an ANN passed by mistake); ``False`` for the
            partial networks measured during calibration.

    Examples:
        >>> import numpy as np, spkeras
        >>> sample = spkeras.demo.load_sample()
        >>> snn = spkeras.convert(spkeras.demo.DEMO_MODEL_PATH, sample["x_calibration"][:50])
        >>> simulator = Simulator(snn, timesteps=8)
        >>> correct, spikes, events = simulator.run_batch(sample["x_test"][:5], sample["y_test"][:5], [0, 0])
        >>> correct.shape, spikes.shape
        (TensorShape([8]), TensorShape([8, 2]))
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
        if encoding not in ENCODINGS:
            raise ValueError(f"`encoding` must be one of {ENCODINGS}. Received: encoding={encoding!r}.")
        self.timesteps = budget.check_timesteps_budget(validation.check_timesteps(timesteps))
        requested = DEFAULT_CHUNK_SIZE if chunk_size is None else validation.check_timesteps(chunk_size, "chunk_size")
        self.chunk_size = _largest_divisor_at_most(self.timesteps, requested)
        self.encoding = encoding
        self.network = spiking_network(snn)
        self.nodes = self.network.nodes
        self.neuron_positions = list(self.network.neuron_positions)
        # Stepped like neurons, states carried after theirs, no spikes counted (e.g. spiking max pooling).
        self.temporal_positions = list(self.network.temporal_positions)
        if not self.neuron_positions and require_neurons:
            raise ValueError(
                f"Model '{snn.name}' has no IntegrateAndFire layers. Received: an ANN. Convert it first with "
                "spkeras.convert(model, x_calibration)."
            )
        missing = [layer.name for layer in self.network.neuron_layers if not hasattr(layer, "step")]
        if missing:
            raise ValueError(
                f"Model '{snn.name}' has spiking layers without a time-step rule ({', '.join(missing)}). Received: "
                "a closed-form model (e.g. cnn_to_snn(legacy=True)). Simulate a model from spkeras.convert."
            )
        self.layer_names = [layer.name for layer in self.network.neuron_layers]
        self.input_shape = tuple(snn.inputs[0].shape[1:])
        # What one sample of the simulator's input looks like: an event sequence has a leading bins axis.
        self.sample_shape = ((None,) if encoding == "events" else ()) + self.input_shape
        self.num_classes = int(snn.outputs[0].shape[-1])
        self.output_shape = tuple(snn.outputs[0].shape[1:])
        self.traces, self.jit_compile = 0, bool(jit_compile)
        self._steps = {i: self._counting_step(self.nodes[i].layer) for i in self.neuron_positions}
        self._compiled: dict[str, tf.types.experimental.PolymorphicFunction] = {}
        self.run_batch = tf.function(
            self.batch_counts,
            input_signature=[
                tf.TensorSpec((None,) + self.sample_shape, tf.float32),
                tf.TensorSpec((None,), tf.int64),
                tf.TensorSpec((2,), tf.int64),
            ],
            jit_compile=jit_compile,
            # The loops are explicit tf.while_loops; without AutoGraph nothing re-reads this file's source,
            # which also keeps long runs safe while the installed source changes.
            autograph=False,
        )

    def check_inputs(self, x, argument: str = "x"):
        """Checks a NumPy input for this simulator (see :func:`spkeras.validation.check_array_inputs`).

        For ``encoding="events"`` the samples are sequences ``(bins,) + input_shape`` with at least ``timesteps``
        bins (step t reads bin t).
        """
        if self.encoding != "events":
            return validation.check_array_inputs(x, self.input_shape, argument)
        shape = tuple(np.shape(x)) if not isinstance(x, tf.data.Dataset) else None
        if shape is not None and len(shape) == len(self.input_shape) + 1:
            raise ValueError(
                f"encoding='events' needs event sequences of shape (N, bins) + {self.input_shape}, one bin per "
                f"step. Received: {argument}.shape={shape}. Bin the events into frames (N, T, ...), or use "
                "encoding='analog' for static inputs."
            )
        x = validation.check_array_inputs(x, self.sample_shape, argument)
        if x.shape[1] < self.timesteps:
            raise ValueError(
                f"encoding='events' reads one bin per step, so {argument} needs at least timesteps={self.timesteps} "
                f"bins. Received: {argument}.shape={tuple(x.shape)} ({x.shape[1]} bins). Pass timesteps <= "
                f"{x.shape[1]} or bin the events more finely."
            )
        return x

    def _compile(self, name, method):
        """``method(x, seed)`` compiled once for any batch size."""
        if name not in self._compiled:
            self._compiled[name] = tf.function(
                method,
                autograph=False,
                jit_compile=self.jit_compile,
                input_signature=[
                    tf.TensorSpec((None,) + self.sample_shape, tf.float32),
                    tf.TensorSpec((2,), tf.int64),
                ],
            )
        return self._compiled[name]

    # -- one chunk -----------------------------------------------------------------------------------------

    def _apply(self, layer, arguments, batch):
        """Applies a synaptic layer to static (B, ...) or dynamic (C, B, ...) tensors."""
        if self.chunk_size == 1 or not any(dynamic for dynamic, _ in arguments):
            # One step per chunk: dynamic values are (B, ...) like static ones (see _stack).
            return any(dynamic for dynamic, _ in arguments), graph.call_layer(layer, [value for _, value in arguments])
        chunk = self.chunk_size
        merged = []
        for dynamic, value in arguments:
            if not dynamic:
                value = tf.broadcast_to(value[None], tf.concat([[chunk], tf.shape(value)], axis=0))
            merged.append(tf.reshape(value, tf.concat([[chunk * batch], tf.shape(value)[2:]], axis=0)))
        output = graph.call_layer(layer, merged)
        return True, tf.reshape(output, tf.concat([[chunk, batch], tf.shape(output)[1:]], axis=0))

    def _step_of(self, value, step: int):
        """One step of a dynamic value: ``value[step]`` of a ``(C, B, ...)`` chunk; the value itself if C = 1."""
        return value if self.chunk_size == 1 else value[step]

    def _stack(self, steps: list):
        """A chunk's per-step values as one dynamic value, ``(C, B, ...)``; one step's ``(B, ...)`` if C = 1 (no
        stack/slice per step between the ops: ~8 % faster on CPU, same values; see docs/benchmarks.md)."""
        return steps[0] if self.chunk_size == 1 else tf.stack(steps)

    def _static_prefix(self, x):
        """Values of all layers that do not depend on time (computed once per batch)."""
        if self.encoding != "analog":
            return {}
        values = {0: x}
        for position, node in enumerate(self.nodes[1:], start=1):
            if node.role == "neuron" or any(i not in values for i in node.inputs):
                continue
            values[position] = graph.call_layer(node.layer, [values[i] for i in node.inputs])
        return values

    def _chunk(self, x, static, states, batch, chunk_index, seed) -> tuple[ChunkResult, list]:
        """Runs ``chunk_size`` steps; returns the chunk's results and the new states."""
        values = {position: (False, value) for position, value in static.items()}
        if 0 not in values:
            first_step = chunk_index * self.chunk_size
            encoded = encode_chunk(x, self.encoding, first_step, self.chunk_size, seed)
            values[0] = (True, encoded[0] if self.chunk_size == 1 else encoded)
        new_states = list(states)
        spike_counts, event_counts, emitted, trains = [], [], [], []
        for position, node in enumerate(self.nodes):
            if position in values:
                continue
            arguments = [values[i] for i in node.inputs]
            if node.role == "temporal" and any(dynamic for dynamic, _ in arguments):
                slot = len(self.neuron_positions) + self.temporal_positions.index(position)
                current, state, outputs = arguments[0][1], states[slot], []
                for step in range(self.chunk_size):
                    output, state = node.layer.step(self._step_of(current, step), state)
                    outputs.append(output)
                new_states[slot] = state
                values[position] = (True, self._stack(outputs))
                continue
            if node.role != "neuron":
                # A temporal layer on a constant input is its plain Keras call (e.g. max pooling of a constant).
                values[position] = self._apply(node.layer, arguments, batch)
                continue
            slot = self.neuron_positions.index(position)
            dynamic, current = arguments[0]
            state = states[slot]
            outputs, counts, events = [], [], []
            for step in range(self.chunk_size):
                output, state, count, event = self._steps[position](
                    self._step_of(current, step) if dynamic else current,
                    state,
                    chunk_index * self.chunk_size + step,
                )
                outputs.append(output)
                counts.append(count)
                events.append(event)
            new_states[slot] = state
            values[position] = (True, self._stack(outputs))
            trains.append(tf.stack(outputs))
            spike_counts.append(tf.stack(counts))
            event_counts.append(tf.stack(events))
            emitted.append(tf.add_n(outputs))
        dynamic, output = values[len(self.nodes) - 1]
        if not dynamic or self.chunk_size == 1:
            output = tf.broadcast_to(output[None], tf.concat([[self.chunk_size], tf.shape(output)], axis=0))
        if spike_counts:
            spikes, events = tf.stack(spike_counts, axis=1), tf.stack(event_counts, axis=1)
        else:
            spikes = events = tf.zeros([self.chunk_size, 0])
        return ChunkResult(tf.cast(output, tf.float32), spikes, events, emitted, trains), new_states

    # -- the time loop -------------------------------------------------------------------------------------

    def initial_states(self, batch) -> list:
        """The state of every spiking layer, then of every temporal layer, at t = 0 for ``batch`` samples."""
        positions = self.neuron_positions + self.temporal_positions
        return [self.nodes[i].layer.initial_state(batch) for i in positions]

    def fold(self, x, body, initial, seed):
        """Runs all chunks on ``x``, folding each chunk's results into a carry.

        Args:
            x: A batch of inputs, ``(B,) + input_shape``.
            body: ``body(chunk_index, chunk_result, carry) -> carry`` with a :class:`ChunkResult`.
            initial: The initial carry (a nest of tensors / ``TensorArray``).
            seed: The ``(2,)`` integer seed of the input encoding.

        Returns:
            The final carry. Call inside a ``tf.function``.
        """
        batch = tf.shape(x)[0]
        static = self._static_prefix(x)
        chunks = self.timesteps // self.chunk_size

        def step(index, states, carry):
            result, states = self._chunk(x, static, states, batch, index, seed)
            return index + 1, states, body(index, result, carry)

        loop = (tf.constant(0), self.initial_states(batch), initial)
        return tf.while_loop(lambda index, *_: index < chunks, step, loop)[2]
