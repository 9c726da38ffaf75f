"""Layer-by-layer simulation from stored spike trains, so that calibration costs O(depth) simulations.

Calibration tunes the neuron layers in network order, and once layer l is tuned its spikes on the calibration
images never change again. A :class:`Frontier` therefore keeps, per calibration batch, the spike trains of the
tuned layers that later layers still read (the *frontier*: a set of tensors, so residual and concatenating graphs
work), and simulates only the *segment* of the network between those trains and the next layer: its synaptic and
pooling layers, merges and that one neuron layer, for exactly T steps. One compiled function per segment and kind
of measurement is traced once and reused for every batch. The whole calibration is then a few simulations of the
calibration set, whatever the depth, instead of one simulation of the partial network per layer (depth²).

The segment is stepped exactly as :class:`~spkeras.simulate.simulator.Simulator` steps the network (analog input,
one step per layer sweep, tensors constant in time computed once per batch, the same neuron and temporal-layer
calls and the same float32 sums), so its rates are bit-identical to a simulation of the partial network.

What is held: the calibration input batches, until the last segment that reads the input (or a tensor computed
from it alone) has run, ``N · input size · 4`` bytes; and, for every frontier tensor, ``N · T · F / 8`` bytes (N
calibration images, F values per image; spikes are 0/1 and stored as bits, and re-emitted with the layer's own
:meth:`~spkeras.layers.IntegrateAndFire.emit`), or ``N · T · F · 4`` bytes (the emitted values) for layers that
fire otherwise (signed or graded spikes, their own ``fire``). A tensor is released after the last segment that
reads it. While a segment runs, one batch's trains are also held unpacked, one byte per spike (``batch · T · F``
bytes per input). E.g. 1,000 images at T = 16 of a 32×32×16 map: 33 MB per frontier tensor.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from spkeras import graph
from spkeras.batching import iterate_batches
from spkeras.layers import IntegrateAndFire
from spkeras.network import spiking_network


def _kind(layer) -> str:
    """ "store" (0/1 spikes, kept as bits) for layers that fire as IntegrateAndFire does, else "dense"."""
    signed = getattr(layer, "signed_spikes", False) or getattr(layer, "graded_spikes", False)
    own_fire = isinstance(layer, IntegrateAndFire) and type(layer).fire is IntegrateAndFire.fire
    return "store" if own_fire and not signed else "dense"


class _Trains:
    """One batch of one frontier tensor, ``(T, B, ...)``: 0/1 spikes packed as bits, or the emitted values."""

    def __init__(self, values: np.ndarray):
        self.shape = values.shape
        self.bits = np.packbits(values, axis=None) if values.dtype == np.uint8 else None
        self.dense = values if self.bits is None else None

    def tensor(self) -> tf.Tensor:
        """The spikes as a uint8 tensor (re-emitted by the reading segment) or the emitted values (float32)."""
        if self.bits is None:
            return tf.constant(self.dense)
        return tf.constant(np.unpackbits(self.bits, count=int(np.prod(self.shape))).reshape(self.shape))


class Frontier:
    """Simulates one neuron layer at a time from the stored spike trains of the layers before it.

    Args:
        snn: The converted network.
        neuron_layers: Its neuron layers that will be visited (with :meth:`advance`), in network order.
        data: Calibration inputs (array or batched ``tf.data.Dataset``; read once), or a list of input batches.
        timesteps: T.
        batch_size: Batch size for arrays.

    Examples:
        >>> import spkeras
        >>> sample = spkeras.demo.load_sample()
        >>> snn = spkeras.convert(spkeras.demo.DEMO_MODEL_PATH, sample["x_calibration"][:50])
        >>> neurons = [layer for layer in snn.layers if isinstance(layer, spkeras.layers.IntegrateAndFire)]
        >>> frontier = Frontier(snn, neurons, sample["x_calibration"][:20], timesteps=4)
        >>> [frontier.advance(layer).shape for layer in neurons]  # mean rate per neuron, layer after layer
        [(26, 26, 16), (11, 11, 32)]
    """

    def __init__(self, snn: keras.Model, neuron_layers: list, data, timesteps: int, batch_size: int = 100):
        self.network = spiking_network(snn)
        self.timesteps = int(timesteps)
        nodes = self.network.nodes
        self.position = {id(nodes[i].layer): i for i in self.network.neuron_positions}
        self.batches = list(data) if isinstance(data, list) else list(iterate_batches(data, batch_size))
        if not self.batches:
            raise ValueError("The calibration data is empty. Received: 0 samples. Pass at least one input sample.")
        self.count = sum(int(batch.shape[0]) for batch in self.batches)
        self.batch_count = len(self.batches)
        self.stored: dict[int, list] = {0: self.batches}
        self._functions: dict = {}
        # Which stored tensors each visit reads, so that each is released after its last reader.
        available, self._last_reader = {0}, {}
        for index, layer in enumerate(neuron_layers):
            for position in self._plan(self.position[id(layer)], available)[1]:
                self._last_reader[position] = index
            available.add(self.position[id(layer)])
        self._visits = {id(layer): index for index, layer in enumerate(neuron_layers)}

    def _plan(self, target: int, available) -> tuple[list[int], list[int]]:
        """The segment's nodes (in network order) and the stored positions it reads."""
        needed, reads, stack = set(), set(), [target]
        while stack:
            position = stack.pop()
            if position in needed:
                continue
            needed.add(position)
            for source in self.network.nodes[position].inputs:
                (reads.add if source in available else stack.append)(source)
        return sorted(needed), sorted(reads)

    def _segment(self, target: int, kind: str, reads: list[int], example: list):
        """The compiled function of one segment: ``kind``: see :meth:`_body`."""
        key = (target, kind, tuple(reads))
        if key not in self._functions:
            order = self._plan(target, set(reads))[0]
            signature = [
                tf.TensorSpec((None,) + tuple(value.shape[1:]), tf.float32)
                if position == 0
                else tf.TensorSpec((self.timesteps, None) + tuple(value.shape[2:]), value.dtype)
                for position, value in zip(reads, example)
            ]
            self._functions[key] = tf.function(
                lambda *inputs: self._body(target, order, reads, inputs, kind),
                input_signature=signature,
                autograph=False,
            )
        return self._functions[key]

    def _body(self, target: int, order: list[int], reads: list[int], inputs, kind: str):
        """Steps the segment for T steps and returns, by ``kind``: "store", the target's emitted total / T
        ``(B, ...)`` and its spikes ``(T, B, ...)`` as uint8; "dense", that total and its emitted values
        ``(T, B, ...)``; "currents" (the segment up to the target's input), that input at every step."""
        nodes = self.network.nodes
        if kind == "currents":
            target = nodes[target].inputs[0]
            order = [position for position in order if position <= target]
        static = {position: value for position, value in zip(reads, inputs) if position == 0}
        dynamic = {position: value for position, value in zip(reads, inputs) if position != 0}
        batch = tf.shape(inputs[0])[0 if reads[0] == 0 else 1]
        for position in order:  # tensors constant in time, once per batch (as the simulator does)
            node = nodes[position]
            if node.role != "neuron" and node.inputs and all(i in static for i in node.inputs):
                static[position] = graph.call_layer(node.layer, [static[i] for i in node.inputs])
        stateful = [p for p in order if p not in static and nodes[p].role in ("neuron", "temporal")]

        def step(time, states, total, trains):
            values, new_states, output, target_spikes = dict(static), list(states), None, None
            for position, value in dynamic.items():
                # Stored spikes are re-emitted with their layer's own emit (1 or θ per spike): bit for bit the
                # values the partial network's simulation passes on.
                spikes = value[time]
                values[position] = (
                    nodes[position].layer.emit(tf.cast(spikes, tf.float32)) if spikes.dtype == tf.uint8 else spikes
                )
            for position in order:
                if position in values:
                    continue
                node = nodes[position]
                arguments = [values[i] for i in node.inputs]
                if node.role not in ("neuron", "temporal"):
                    values[position] = graph.call_layer(node.layer, arguments)
                    continue
                slot = stateful.index(position)
                if node.role == "temporal":
                    values[position], new_states[slot] = node.layer.step(arguments[0], states[slot])
                    continue
                current = arguments[0]
                if getattr(node.layer, "adjusts_input", False):
                    current = node.layer.input_current(current, time)
                values[position], new_states[slot], fired = node.layer.step(current, states[slot])
                if position == target:
                    output, target_spikes = values[position], fired
            if kind == "currents":
                return time + 1, new_states, total, trains.write(time, values[target])
            if kind == "store":
                trains = trains.write(time, tf.cast(target_spikes, tf.uint8))
            elif kind == "dense":
                trains = trains.write(time, output)
            return time + 1, new_states, total + output, trains

        states = [nodes[p].layer.initial_state(batch) for p in stateful]
        if kind == "currents":
            total = tf.zeros([])
        else:
            total = tf.zeros(tf.concat([[batch], nodes[target].layer.feature_shape], axis=0), tf.float32)
        trains = tf.TensorArray(tf.uint8 if kind == "store" else tf.float32, size=self.timesteps)
        loop = (tf.constant(0), states, total, trains)
        _, _, total, trains = tf.while_loop(lambda time, *_: time < self.timesteps, step, loop)
        if kind == "currents":
            return trains.stack()
        return total / float(self.timesteps), trains.stack()

    def _inputs(self, reads: list[int], index: int) -> list:
        return [
            self.stored[position][index] if position == 0 else self.stored[position][index].tensor()
            for position in reads
        ]

    def _run(self, layer, kind: str):
        target = self.position[id(layer)]
        reads = self._plan(target, set(self.stored))[1]
        function = None
        for index in range(self.batch_count):
            inputs = self._inputs(reads, index)
            function = function or self._segment(target, kind, reads, inputs)
            yield function(*inputs)

    def _rates(self, layer, means) -> np.ndarray:
        total = None
        for mean in means:
            value = tf.reduce_sum(mean, axis=0).numpy().astype("float64")
            total = value if total is None else total + value
        rate = total / self.count
        if layer.spike_value == "threshold":
            rate = rate / np.asarray(keras.ops.convert_to_numpy(layer.threshold), "float64")
        return rate

    def rates(self, layer) -> np.ndarray:
        """Mean firing rate per neuron of ``layer`` over the calibration images (spikes per step)."""
        # advance()'s compiled function, its spikes left unread (one trace per segment: on small calibration sets
        # tracing, not simulating, is most of the cost).
        return self._rates(layer, (mean for mean, _ in self._run(layer, _kind(layer))))

    def currents(self, layer):
        """Yields, per calibration batch, ``layer``'s input current at every step ``(T, B, ...)``."""
        yield from self._run(layer, "currents")

    def advance(self, layer) -> np.ndarray:
        """Like :meth:`rates`, and stores ``layer``'s spike trains for the layers after it (it is now final)."""
        trains, means = [], []
        for mean, values in self._run(layer, _kind(layer)):
            means.append(mean)
            trains.append(_Trains(values.numpy()))
        visit = self._visits.get(id(layer))
        self.stored[self.position[id(layer)]] = trains
        for position in [p for p, last in self._last_reader.items() if visit is not None and last <= visit]:
            self.stored.pop(position, None)
            del self._last_reader[position]
        if 0 not in self.stored:
            self.batches = []  # the input is read by no later segment
        return self._rates(layer, means)
