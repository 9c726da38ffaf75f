"""Neurons that pre-simulate ρ steps of each input, then restart corrected: offset spikes (COS) and SRP.

Both methods (Hao et al.) run every neuron for the first ρ steps of each sample as a plain soft-reset IF neuron
starting at ``v_init·θ``, read its state at step ρ, and then restart it: the membrane is set back to its start
potential (plus a correction) and the simulation continues. In this simulator every layer runs in lock-step, so
all layers pre-simulate on the same ρ steps and restart together; **the ρ steps count as time steps** (a run of
T steps has T − ρ corrected steps) and their output reaches the readout like any other step.

*Offset spikes*, COS (Hao, Ding, Bu, Huang & Yu, ICLR 2023, "Bridging the gap between ANNs and SNNs by
calibrating offset spikes"; public code hzc1208/ANN2SNN_COS, read for the exact rule, rewritten here). The
offset spike is the SNN's spike count minus the count the ANN asks for; the paper shows it is mostly ±1 and that
the residual potential V(ρ) after ρ steps shows its sign. With potentials in units of θ and n the spikes of the
ρ steps:

- ``V(ρ) < 0`` and ``n ≥ 1`` (one spike too many): the start potential is lowered by
  ``max(1, m_fire − 0.999)``, where ``m_fire`` is the smallest potential at which the neuron fired;
- ``V(ρ) ≥ 1`` (one spike too few): it is raised by ``max(1, 1.001 − m_quiet)``, where ``m_quiet`` is the
  largest potential of a step without a spike (0 when it fired at every step);
- otherwise the start potential is unchanged.

*Residual membrane potential*, SRP (Hao, Bu, Ding, Huang & Yu, AAAI 2023, "Reducing ANN-SNN conversion error
through residual membrane potential"; code hzc1208/ANN2SNN_SRP). The most frequent unevenness error is an ANN
output of zero with an SNN output above zero; such neurons end the pre-simulation with a residual potential
``V(ρ) ≤ 0``. After the restart their spikes are suppressed: the output is multiplied by the gate
``V(ρ) > 10⁻³·θ`` (the potential itself keeps integrating).

The closed-form forward pass (``layer(x)``) is that of :class:`IntegrateAndFire` (the corrections depend on the
simulated spike trains); the simulator runs :meth:`PreSimulatedIntegrateAndFire.step`.
"""

from __future__ import annotations

import keras
from keras import ops

from spkeras import validation
from spkeras.layers.neurons import IntegrateAndFire

_FAR = 1e30  # "no step recorded yet" for the running minimum of the firing potentials


class PreSimulatedIntegrateAndFire(IntegrateAndFire):
    """Base class: a soft-reset IF neuron that pre-simulates ``presim_steps`` steps, then restarts corrected.

    Subclasses override :meth:`restart`. The state is ``(potential, step, lowest_fired, highest_quiet, spikes,
    gate)``: the step counter (a scalar), the smallest potential at which a neuron fired and the largest one at
    which it stayed silent during the pre-simulation, its spike count there, and the output gate (1 until the
    restart).

    Args:
        presim_steps: ρ, the steps of the pre-simulation (an integer ≥ 1; part of every run's T).
        **kwargs: The arguments of :class:`IntegrateAndFire` (``reset`` must be ``"soft"``).

    Examples:
        >>> layer = ResidualPotentialIntegrateAndFire(threshold=1.0, presim_steps=2)
        >>> isinstance(layer, PreSimulatedIntegrateAndFire), layer.get_config()["presim_steps"]
        (True, 2)
    """

    supported_resets = ("soft",)

    def __init__(self, presim_steps=4, **kwargs):
        super().__init__(**kwargs)
        self.presim_steps = validation.check_number(
            "presim_steps", presim_steps, minimum=1, integer=True, owner=f"{type(self).__name__} '{self.name}'"
        )

    def initial_state(self, batch_size):
        (potential,) = super().initial_state(batch_size)
        zeros = ops.zeros_like(potential)
        return (potential, ops.zeros((), "int32"), zeros + _FAR, zeros, zeros, zeros + 1.0)

    def restart(self, potential, spikes, lowest_fired, highest_quiet):
        """Returns ``(start potential, gate)`` for the corrected run, from the state after ρ steps.

        Args:
            potential: V(ρ), the potential after the pre-simulation.
            spikes: The spike count of each neuron during the pre-simulation.
            lowest_fired: The smallest potential at which it fired (a large number if it never fired).
            highest_quiet: The largest potential of a step without a spike (0 if there was none, or a larger one).
        """
        raise NotImplementedError(f"{type(self).__name__} must implement restart().")

    def step(self, current, state):
        potential, step, lowest, highest, count, gate = state
        presimulating = step < self.presim_steps
        potential = self.charge(potential, current)
        spikes = self.fire(potential)
        fired = spikes > 0
        lowest = ops.where(presimulating & fired, ops.minimum(lowest, potential), lowest)
        highest = ops.where(presimulating & ~fired, ops.maximum(highest, potential), highest)
        count = count + ops.where(presimulating, spikes, ops.zeros_like(spikes))
        potential = self.reset_potential(potential, spikes)
        spikes = spikes * gate
        step = step + 1
        # The restart rule runs at step ρ only (a branch, not an elementwise select computed every step).
        potential, gate = ops.cond(
            step == self.presim_steps,
            lambda: self.restart(potential, count, lowest, highest),
            lambda: (potential, gate),
        )
        return self.emit(spikes), (potential, step, lowest, highest, count, gate), spikes

    def get_config(self):
        config = super().get_config()
        config["presim_steps"] = self.presim_steps
        return config


@keras.saving.register_keras_serializable(package="spkeras")
class OffsetSpikeIntegrateAndFire(PreSimulatedIntegrateAndFire):
    """COS: after ρ steps, the start potential moves by about ±θ where the residual potential shows an offset spike.

    The rule (module docstring) in units of θ: one spike too many (V(ρ) < 0 after a spike) lowers the start
    potential by ``max(1, m_fire − 0.999)``; one too few (V(ρ) ≥ 1) raises it by ``max(1, 1.001 − m_quiet)``.

    Args:
        presim_steps: ρ, the pre-simulation steps (counted in T).
        **kwargs: The arguments of :class:`IntegrateAndFire`.

    Examples:
        >>> import numpy as np
        >>> neuron = OffsetSpikeIntegrateAndFire(threshold=1.0, v_init=0.5, presim_steps=2)
        >>> neuron.build((None, 1))
        >>> state, train = neuron.initial_state(1), []
        >>> for current in [0.8, -0.6, 0.4, 0.4, 0.4, 0.4]:  # V: 1.3 → fires, 0.3−0.6 = −0.3 < 0: one too many
        ...     _, state, spikes = neuron.step(np.full((1, 1), current, "float32"), state)
        ...     train.append(int(spikes[0, 0]))
        >>> train, round(float(state[0][0, 0]), 2)  # restarts at 0.5 − 1 = −0.5; −0.5 + 4 × 0.4 = 1.1 → one spike
        ([1, 0, 0, 0, 0, 1], 0.1)
    """

    def restart(self, potential, spikes, lowest_fired, highest_quiet):
        theta = self.threshold
        start = ops.zeros_like(potential) + self.start_potential()
        too_many = (potential < 0) & (spikes > 0)
        too_few = potential >= theta
        down = ops.maximum(theta, lowest_fired - 0.999 * theta)
        up = ops.maximum(theta, 1.001 * theta - highest_quiet)
        start = ops.where(too_many, start - down, ops.where(too_few, start + up, start))
        return start, ops.ones_like(potential)


@keras.saving.register_keras_serializable(package="spkeras")
class ResidualPotentialIntegrateAndFire(PreSimulatedIntegrateAndFire):
    """SRP: after ρ steps, neurons whose residual potential is ≤ 10⁻³·θ are silenced for the rest of the run.

    Args:
        presim_steps: τ (ρ), the pre-simulation steps (counted in T).
        **kwargs: The arguments of :class:`IntegrateAndFire`.

    Examples:
        >>> import numpy as np
        >>> neuron = ResidualPotentialIntegrateAndFire(threshold=1.0, v_init=0.5, presim_steps=2)
        >>> neuron.build((None, 1))
        >>> state, train = neuron.initial_state(1), []
        >>> for current in [0.8, -0.6, 0.8, 0.8]:  # V(2) = −0.3 ≤ 0: silenced after the restart
        ...     _, state, spikes = neuron.step(np.full((1, 1), current, "float32"), state)
        ...     train.append(int(spikes[0, 0]))
        >>> train
        [1, 0, 0, 0]
    """

    def restart(self, potential, spikes, lowest_fired, highest_quiet):
        start = ops.zeros_like(potential) + self.start_potential()
        return start, ops.cast(potential > 1e-3 * self.threshold, potential.dtype)
