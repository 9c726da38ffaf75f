"""What a simulation measures: accuracy and spikes per step, mean values, maximum currents, spike trains.

A mixin of :class:`~spkeras.simulate.simulator.Simulator`: each measurement is a fold over the chunks of the
time loop (:meth:`~spkeras.simulate.simulator.Simulator.fold`), compiled once per simulator for any batch size.
"""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf


class ChunkResult(NamedTuple):
    """What one chunk of ``C`` steps produced (see :meth:`Simulator.fold`).

    Attributes:
        output: The output layer's value at each step, ``(C, B, K)``.
        spikes: Spikes per step and spiking layer summed over the batch, ``(C, L)``.
        events: Spike events (non-zero outputs) per step and layer, ``(C, L)``.
        emitted: Per spiking layer, the values it emitted summed over the chunk's steps, ``(B, ...)``.
        trains: Per spiking layer, the values it emitted at each step, ``(C, B, ...)``.
    """

    output: tf.Tensor
    spikes: tf.Tensor
    events: tf.Tensor
    emitted: list
    trains: list


class MeasurementsMixin:
    """Compiled measurements of a :class:`~spkeras.simulate.simulator.Simulator` (see its ``fold``)."""

    @staticmethod
    def _counting_step(layer):
        """The layer's time step, also returning its spike count and event count (summed over the batch)."""
        adjusts = getattr(layer, "adjusts_input", False)

        def step(current, state, time_index):
            if adjusts:
                current = layer.input_current(current, time_index)
            output, state, spikes = layer.step(current, state)
            count = tf.reduce_sum(tf.abs(spikes) if layer.signed_spikes else spikes)
            event = tf.cast(tf.math.count_nonzero(spikes), tf.float32) if layer.graded_spikes else count
            return output, state, count, event

        return step

    def _mean_values(self, x, seed):
        self.traces += 1
        batch = tf.shape(x)[0]

        def body(index, result, carry):
            accumulated, totals = carry
            return accumulated + tf.reduce_sum(result.output, axis=0), [t + e for t, e in zip(totals, result.emitted)]

        totals = [
            tf.zeros(tf.concat([[batch], self.nodes[i].layer.feature_shape], axis=0), tf.float32)
            for i in self.neuron_positions
        ]
        initial = tf.zeros(tf.concat([[batch], self.output_shape], axis=0), tf.float32)
        accumulated, totals = self.fold(x, body, (initial, totals), seed)
        steps = float(self.timesteps)
        return accumulated / steps, [total / steps for total in totals]

    def mean_values(self, x, seed):
        """Mean output per step ``(B, K)`` and, per spiking layer, its mean emitted value per step ``(B, ...)``."""
        return self._compile("mean_values", self._mean_values)(x, seed)

    def _output_maximum(self, x, seed):
        def body(index, result, carry):
            output = result.output
            return tf.maximum(carry, tf.reduce_max(tf.reshape(output, [-1, tf.shape(output)[-1]]), axis=0))

        return self.fold(x, body, tf.fill([self.num_classes], tf.float32.min), seed)

    def output_maximum(self, x, seed):
        """Largest per-step value of the output, per output channel ``(K,)``, over the batch and all steps."""
        return self._compile("output_maximum", self._output_maximum)(x, seed)

    def _trains(self, x, seed):
        chunks = self.timesteps // self.chunk_size

        def body(index, result, carry):
            return [array.write(index, train) for array, train in zip(carry, result.trains)]

        arrays = [tf.TensorArray(tf.float32, size=chunks) for _ in self.neuron_positions]
        arrays = self.fold(x, body, arrays, seed)
        return [array.concat() for array in arrays]

    def spike_trains(self, x, seed):
        """Per spiking layer, the value emitted at every step, ``(T, B, ...)``."""
        return self._compile("spike_trains", self._trains)(x, seed)

    def _output_trains(self, x, seed):
        chunks = self.timesteps // self.chunk_size

        def body(index, result, carry):
            return carry.write(index, result.output)

        return self.fold(x, body, tf.TensorArray(tf.float32, size=chunks), seed).concat()

    def output_trains(self, x, seed):
        """The output's value at every step, ``(T, B) + output shape`` (e.g. a layer's input current)."""
        return self._compile("output_trains", self._output_trains)(x, seed)

    def batch_counts(self, x, y, seed):
        """Correct predictions per step ``(T,)``, spikes and events per step and layer ``(T, L)`` (uncompiled;
        :attr:`run_batch` is the compiled version)."""
        self.traces += 1
        batch = tf.shape(x)[0]
        chunks = self.timesteps // self.chunk_size
        layers = len(self.neuron_positions)

        def body(index, result, carry):
            accumulated, correct, spikes, events = carry
            running = accumulated + tf.cumsum(result.output, axis=0)
            predictions = tf.argmax(running, axis=-1, output_type=tf.int64)
            hits = tf.reduce_sum(tf.cast(tf.equal(predictions, y[None, :]), tf.float32), axis=1)
            return (
                running[-1],
                correct.write(index, hits),
                spikes.write(index, result.spikes),
                events.write(index, result.events),
            )

        carry = (
            tf.zeros([batch, self.num_classes], tf.float32),
            tf.TensorArray(tf.float32, size=chunks, element_shape=[self.chunk_size]),
            tf.TensorArray(tf.float32, size=chunks, element_shape=[self.chunk_size, layers]),
            tf.TensorArray(tf.float32, size=chunks, element_shape=[self.chunk_size, layers]),
        )
        _, correct, spikes, events = self.fold(x, body, carry, seed)
        return (
            tf.reshape(correct.stack(), [self.timesteps]),
            tf.reshape(spikes.stack(), [self.timesteps, layers]),
            tf.reshape(events.stack(), [self.timesteps, layers]),
        )
