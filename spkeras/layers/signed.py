"""Neurons that can emit negative spikes: the ternary (double-threshold) and augmented (multi-spike) IF layers."""

from __future__ import annotations

import keras
from keras import ops

from spkeras import validation
from spkeras.layers.neurons import IntegrateAndFire


class _NetCountIntegrateAndFire(IntegrateAndFire):
    """Base of the neurons that can emit negative spikes: soft reset, state (potential, net spike count).

    Args:
        negative_threshold: Where an over-fired neuron (net count > 0) emits a negative spike, as a fraction f of
            θ: at ``V ≤ −f·θ`` (default 1.0: TerMapping's double threshold, which leaves up to one spike of
            over-firing in place), or, for ``f = 0``, as soon as ``V < 0``. With ``f = 0`` and ``v_init=0.5`` the
            two thresholds sit at ±θ/2 around the rounding offset, so the net count after every step is
            ``round(ΣI/θ)`` (clipped at 0) whenever the allowed spikes per step can keep up — the symmetric
            ternary rule of dual-threshold / ternary-predictive neurons (Liu et al., ICML 2025; Gu et al., 2024).
        **kwargs: Arguments of :class:`~spkeras.layers.IntegrateAndFire`.
    """

    supported_resets = ("soft",)
    signed_spikes = True

    def __init__(self, threshold=1.0, negative_threshold: float = 1.0, **kwargs):
        super().__init__(threshold=threshold, **kwargs)
        self.negative_threshold = validation.check_number(
            "negative_threshold", negative_threshold, minimum=0, maximum=1, owner=f"{type(self).__name__} '{self.name}'"
        )

    def initial_state(self, batch_size):
        (potential,) = super().initial_state(batch_size)
        return potential, ops.zeros_like(potential)

    def _below(self, potential):
        """Where the potential calls for a negative spike (before the net-count condition)."""
        if self.negative_threshold == 0.0:
            return potential < 0.0
        return potential <= -self.negative_threshold * self.threshold

    def get_config(self):
        return {**super().get_config(), "negative_threshold": self.negative_threshold}


@keras.saving.register_keras_serializable(package="spkeras")
class TernaryIntegrateAndFire(_NetCountIntegrateAndFire):
    """IF neurons with a negative threshold (TerMapping's double threshold, Ma et al., TNNLS 2021).

    Besides the positive spike at ``V ≥ θ``, a neuron whose potential fell to ``V ≤ −θ`` emits a negative
    spike (``V ← V + θ``) — but only while its net spike count is positive, so the net count never goes
    below zero and tracks ``relu`` of the accumulated input: over-firing caused by early input is undone.
    The paper's exact rule is unconfirmed; this is our rule (docs/methods/termapping.md). State: (potential, net count).
    ``negative_threshold=f`` moves the negative threshold to ``−f·θ`` (``0``: as soon as ``V < 0``; see the base
    class above).

    Examples:
        >>> import numpy as np
        >>> neuron = TernaryIntegrateAndFire(threshold=1.0)
        >>> neuron.build((None, 1))
        >>> state = neuron.initial_state(1)
        >>> for current in (1.0, -1.0, -1.0):
        ...     _, state, spikes = neuron.step(np.array([[current]], "float32"), state)
        >>> float(state[1][0, 0])  # +1 then -1, then no negative spike below zero
        0.0
        >>> symmetric = TernaryIntegrateAndFire(threshold=1.0, v_init=0.5, negative_threshold=0.0)
        >>> symmetric.build((None, 1))
        >>> state, counts = symmetric.initial_state(1), []
        >>> for current in (0.6, -0.2, 0.3):  # accumulated input 0.6, 0.4, 0.7: rounded 1, 0, 1
        ...     _, state, spikes = symmetric.step(np.array([[current]], "float32"), state)
        ...     counts.append(float(state[1][0, 0]))
        >>> counts
        [1.0, 0.0, 1.0]
    """

    def step(self, current, state):
        potential, net_count = state
        potential = self.charge(potential, current)
        positive = ops.cast(potential >= self.threshold, potential.dtype)
        negative = ops.cast(self._below(potential) & (net_count > 0), potential.dtype)
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
    ``negative_threshold=f`` moves the negative threshold to ``−f·θ`` (``0``: the fewest θ that bring ``V`` back to
    ``[0, θ)``; see the base class above).

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
        if self.negative_threshold == 0.0:  # the fewest θ that bring V back to [0, θ)
            below = ops.maximum(-ops.floor(potential / self.threshold), 0.0)
        elif self.negative_threshold == 1.0:  # the fewest θ that bring V above −θ
            below = ops.maximum(ops.floor(-potential / self.threshold), 0.0)
        else:  # the fewest θ that bring V above −f·θ
            below = ops.maximum(ops.floor(-potential / self.threshold - self.negative_threshold) + 1.0, 0.0)
        negative = ops.minimum(below, net_count)
        coefficients = positive - negative
        potential = potential - coefficients * self.threshold
        return self.emit(coefficients), (potential, net_count + coefficients), coefficients

    def closed_form_count(self, current, timesteps):
        start = self.start_potential()
        steps = ops.cast(timesteps, self.compute_dtype)
        return ops.maximum(ops.floor((ops.maximum(current, 0.0) * steps + start) / self.threshold), 0.0)
