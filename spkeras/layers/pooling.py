"""Spiking max pooling: the max-pooling layer of a spiking network, gated by accumulated input.

Max pooling has no stateless spiking equivalent: the maximum of the spikes of one step is not the maximum of
the firing rates (a window of four neurons firing at 0.25 each, out of phase, would pass a spike every step).
:class:`SpikingMaxPooling2D` and :class:`SpikingMaxPooling1D` keep, for every input neuron, the value it has
sent so far (its accumulated spikes, or accumulated current on a non-spiking path), and pass on, per window,
the increase of the largest accumulated value:

    A_i(t) = Σ_{s ≤ t} x_i(s),     M(t) = max_{i ∈ window} A_i(t),     y(t) = M(t) − M(t − 1).

So the output's accumulated value is exactly the largest accumulated input in the window at every step, and its
rate is the maximum of the input rates up to an error below one spike over the whole run (``|A_i(t) − r_i·t|`` is
bounded for an integrate-and-fire neuron). A spike of the current leader passes, a spike of any other neuron is
blocked, and when the leadership changes only the excess over the previous maximum passes. With binary input
spikes the output is binary (``M`` grows by at most one spike per step); with spikes that carry θ the output
carries θ (pooling is per channel and θ is shared by a channel).

This follows the gating idea of Rueckauer et al. (2017), "Conversion of continuous-valued deep networks to
efficient event-driven networks", Front. Neurosci. 11:682, §2.2.3 (let through only the spikes of the neuron with
the highest firing rate, estimated online), with the rate estimate taken as the accumulated count since t = 0, as
in the cumulative-count gate of sinabs' ``SpikingMaxPooling2dLayer`` (SynSense). Unlike a gate that passes every
spike of a neuron tied with the maximum, the difference of maxima never passes more than the maximum count.

The ordinary Keras forward pass (``layer(x)``, ``predict``, the closed form) is plain max pooling: for a
constant input the accumulated rule gives exactly ``max(x)`` every step.
"""

from __future__ import annotations

import keras
from keras import ops


class _AccumulatedMaximum:
    """The time-step rule shared by the 1-D and 2-D layers (the pooling itself is the parent's ``call``)."""

    #: Marks the layer as one that carries state across time steps without spiking itself; the simulator
    #: calls :meth:`step` once per step and counts no spikes for it.
    temporal_state = True

    def initial_state(self, batch_size):
        """The state at t = 0: the accumulated input and the previous window maxima, both zero.

        Args:
            batch_size: Number of samples (an int or a scalar tensor).
        """
        input_shape = (batch_size,) + tuple(self.input_feature_shape)
        output_shape = (batch_size,) + tuple(self.compute_output_shape((None,) + self.input_feature_shape)[1:])
        return (ops.zeros(input_shape, self.compute_dtype), ops.zeros(output_shape, self.compute_dtype))

    def build(self, input_shape):
        self.input_feature_shape = tuple(input_shape[1:])
        super().build(input_shape)

    def step(self, inputs, state):
        """Advances one time step.

        Args:
            inputs: The values received this step, shape ``(batch,) + input shape``.
            state: The tuple returned by :meth:`initial_state` or by the previous step.

        Returns:
            ``(output, new_state)``: the increase of each window's largest accumulated input, and the new state.
        """
        accumulated, previous = state
        accumulated = accumulated + inputs
        maxima = self.call(accumulated)
        return maxima - previous, (accumulated, maxima)


@keras.saving.register_keras_serializable(package="spkeras")
class SpikingMaxPooling2D(_AccumulatedMaximum, keras.layers.MaxPooling2D):
    """2-D max pooling for spiking networks: passes, per window, the increase of the largest accumulated input.

    Takes the arguments of ``keras.layers.MaxPooling2D`` (``pool_size``, ``strides``, ``padding``,
    ``data_format``, ``name``, ...). ``layer(x)`` is ordinary max pooling; the simulator uses :meth:`step`.

    Examples:
        >>> import numpy as np
        >>> pool = SpikingMaxPooling2D(pool_size=2)
        >>> pool.build((None, 2, 2, 1))
        >>> spikes = [np.array([1, 0, 0, 0], "float32"), np.array([0, 1, 0, 0], "float32")]
        >>> state, passed = pool.initial_state(1), []
        >>> for x in spikes * 2:  # the two neurons fire in turn, each at rate 0.5
        ...     output, state = pool.step(x.reshape(1, 2, 2, 1), state)
        ...     passed.append(float(output[0, 0, 0, 0]))
        >>> passed
        [1.0, 0.0, 1.0, 0.0]
    """


@keras.saving.register_keras_serializable(package="spkeras")
class SpikingMaxPooling1D(_AccumulatedMaximum, keras.layers.MaxPooling1D):
    """1-D max pooling for spiking networks (see :class:`SpikingMaxPooling2D`).

    Examples:
        >>> import numpy as np
        >>> pool = SpikingMaxPooling1D(pool_size=2)
        >>> pool(np.array([[[0.2], [0.7]]], "float32")).numpy().ravel()  # the Keras pass is plain max pooling
        array([0.7], dtype=float32)
    """
