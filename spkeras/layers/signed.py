"""Neurons that can emit negative spikes: the ternary (double-threshold) and augmented (multi-spike) IF layers."""

from __future__ import annotations

import keras
from keras import ops

from spkeras.layers.neurons import IntegrateAndFire


class _NetCountIntegrateAndFire(IntegrateAndFire):
    """Base of the neurons that can emit negative spikes: soft reset, state (potential, net spike count)."""

    supported_resets = ("soft",)
    signed_spikes = True

    def initial_state(self, batch_size):
        (potential,) = super().initial_state(batch_size)
        return potential, ops.zeros_like(potential)


@keras.saving.register_keras_serializable(package="spkeras")
class TernaryIntegrateAndFire(_NetCountIntegrateAndFire):
    """IF neurons with a negative threshold (TerMapping's double threshold, Ma et al., TNNLS 2021).

    Besides the positive spike at ``V ≥ θ``, a neuron whose potential fell to ``V ≤ −θ`` emits a negative
    spike (``V ← V + θ``) — but only while its net spike count is positive, so the net count never goes
    below zero and tracks ``relu`` of the accumulated input: over-firing caused by early input is undone.
    The paper's exact rule is unconfirmed; this is our rule (docs/methods/termapping.md). State: (potential, net count).

    Examples:
        >>> import numpy as np
        >>> neuron = TernaryIntegrateAndFire(threshold=1.0)
        >>> neuron.build((None, 1))
        >>> state = neuron.initial_state(1)
        >>> for current in (1.0, -1.0, -1.0):
        ...     _, state, spikes = neuron.step(np.array([[current]], "float32"), state)
        >>> float(state[1][0, 0])  # +1 then -1, then no negative spike below zero
        0.0
    """

    def step(self, current, state):
        potential, net_count = state
        potential = self.charge(potential, current)
        positive = ops.cast(potential >= self.threshold, potential.dtype)
        negative = ops.cast((potential <= -self.threshold) & (net_count > 0), potential.dtype)
        spikes = positive - negative
        potential = potential - spikes * self.threshold
        return self.emit(spikes), (potential, net_count + spikes), spikes


@keras.saving.register_keras_serializable(package="spkeras")
class AugmentedIntegrateAndFire(_NetCountIntegrateAndFire):
    """IF neurons whose spike event carries an integer coefficient (AugMapping, Ma et al., TNNLS 2021).

    One event per step carries ``k = floor(V/θ)`` (``V ← V − k·θ``), i.e. several ordinary spikes in one step,
    which removes the one-spike-per-step ceiling at low T. Combined with the double threshold: a negative
    event ``k = −min(floor(−V/θ), net count)`` while the net count is positive. Spike counts are reported as
    events (steps with ``k ≠ 0``) and as the sum of ``|k|``. Details of the paper are unconfirmed; this is
    our rule (docs/methods/augmapping.md). State: (potential, net count).

    Examples:
        >>> import numpy as np
        >>> neuron = AugmentedIntegrateAndFire(threshold=1.0)
        >>> neuron.build((None, 1))
        >>> out, state, k = neuron.step(np.array([[3.5]], "float32"), neuron.initial_state(1))
        >>> float(k[0, 0]), float(state[0][0, 0])
        (3.0, 0.5)
    """

    graded_spikes = True

    def step(self, current, state):
        potential, net_count = state
        potential = self.charge(potential, current)
        positive = ops.maximum(ops.floor(potential / self.threshold), 0.0)
        negative = ops.minimum(ops.maximum(ops.floor(-potential / self.threshold), 0.0), net_count)
        coefficients = positive - negative
        potential = potential - coefficients * self.threshold
        return self.emit(coefficients), (potential, net_count + coefficients), coefficients

    def closed_form_count(self, current, timesteps):
        start = self.start_potential()
        steps = ops.cast(timesteps, self.compute_dtype)
        return ops.maximum(ops.floor((ops.maximum(current, 0.0) * steps + start) / self.threshold), 0.0)
