"""Integrate-and-fire (IF) neuron layers.

A neuron layer replaces a ReLU of the source network. During a simulation the simulator calls
:meth:`IntegrateAndFire.step` once per time step with the input current of that step and the layer's
state (membrane potential); the step is written as three small functions, :meth:`~IntegrateAndFire.charge`,
:meth:`~IntegrateAndFire.fire` and :meth:`~IntegrateAndFire.reset_potential`, so that a neuron variant is a
subclass overriding one of them.

The ordinary Keras forward pass (``layer(x)``, ``model.predict``) evaluates the *closed-form* spike count of
a neuron driven by the constant current ``x`` for ``timesteps`` steps — the fast analytic estimate used by
the original SpKeras tool — and returns the mean output per step, so the converted model stays a usable
Keras model (``summary()``, ``predict``) as well as a simulator input.
"""

from __future__ import annotations

import numbers

import keras
import numpy as np
from keras import ops

from spkeras import validation
from spkeras.layers import calibrated

RESET_MODES = ("soft", "hard")
SPIKE_VALUES = ("unit", "threshold")
_LEGACY_FLAGS = ("calibrated_bias", "calibrated_potential", "calibrated_steps")  # arguments of earlier versions


def _threshold_value(threshold, layer_name):
    """Returns a float (layer-wide) or a list of floats (per channel), or raises with what was received."""
    if isinstance(threshold, np.ndarray) and threshold.ndim == 0:
        threshold = threshold.item()
    if isinstance(threshold, (bool, np.bool_, str, bytes)) or threshold is None:
        values = None
    elif isinstance(threshold, numbers.Real):
        values = np.asarray([float(threshold)])
    else:
        try:
            values = np.asarray(threshold, dtype="float64")
        except (TypeError, ValueError):
            values = None
        if values is not None and (
            values.ndim != 1 or values.dtype.kind != "f" or np.asarray(threshold).dtype.kind == "b"
        ):
            values = None
    if values is None:
        raise TypeError(
            f"IntegrateAndFire '{layer_name}': `threshold` must be a positive number or a flat list of positive "
            f"numbers (one per channel). Received: {threshold!r}."
        )
    if values.size == 0 or not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ValueError(
            f"IntegrateAndFire '{layer_name}': `threshold` must be finite and > 0. Received: {threshold!r}. "
            "A zero threshold usually means a layer never activated on the calibration data."
        )
    return float(values[0]) if isinstance(threshold, numbers.Real) else [float(item) for item in values]


@keras.saving.register_keras_serializable(package="spkeras")
class IntegrateAndFire(keras.layers.Layer):
    """A layer of integrate-and-fire neurons, the spiking replacement of a ReLU.

    Per time step: ``V ← V + I`` (charge); a spike where ``V ≥ θ`` (fire); then reset, either by subtraction
    (``reset="soft"``: ``V ← V − θ``, keeps the residual charge, the default) or to zero (``reset="hard"``).
    The membrane starts at ``v_init · θ`` (``v_init=0.5`` turns the floored rate into a rounded one).

    Args:
        threshold: Firing threshold θ: a positive float (one for the whole layer) or a list of positive floats
            (one per channel, along the last axis). Stored as a non-trainable weight.
        reset: ``"soft"`` (reset by subtraction) or ``"hard"`` (reset to zero).
        v_init: Initial membrane potential as a fraction of θ, in ``[0, 1)``.
        spike_value: What an output spike carries: ``"unit"`` (1; the next layer's weights carry the scale)
            or ``"threshold"`` (θ; weights unchanged).
        timesteps: Number of time steps assumed by the closed-form forward pass (``layer(x)``). The simulator
            ignores it and runs as many steps as asked.
        calibration_weights: The non-trainable weights that post-conversion calibration sets, as a mapping from
            weight name to role (see :mod:`spkeras.layers.calibrated`): e.g. ``{"bias_current":
            "channel_current"}`` adds a per-channel current every step. Zero until calibration sets them. The
            calibration modes (:mod:`spkeras.calibration.modes`) say which weights they need.
        calibration_range: ``(min, max)`` of the inputs the network was converted with (the converter stores it;
            simulations warn when their inputs lie far outside it, e.g. images left in 0–255), or None.
        **kwargs: Standard ``keras.layers.Layer`` arguments (``name``, ``dtype``, ...). The flags of earlier
            versions (``calibrated_bias``, ``calibrated_potential``, ``calibrated_steps``) are read as the
            equivalent ``calibration_weights``, so older ``.keras`` files load.

    Examples:
        >>> import numpy as np
        >>> neuron = IntegrateAndFire(threshold=1.0, v_init=0.5, timesteps=4)
        >>> neuron(np.array([[0.3, 0.6]], dtype="float32")).numpy().round(2)  # counts 1 and 2 of 4 steps
        array([[0.25, 0.5 ]], dtype=float32)
    """

    supported_resets = RESET_MODES
    #: Marks the layer as a spiking layer for the simulator, the closed form and the metrics.
    spiking_neuron = True
    #: Whether spikes can be negative (the simulator then counts |spikes|).
    signed_spikes = False
    #: Whether one event can carry several spikes (the simulator then counts events separately).
    graded_spikes = False

    def __init__(
        self,
        threshold=1.0,
        reset="soft",
        v_init=0.0,
        spike_value="unit",
        timesteps=64,
        calibration_weights=None,
        calibration_range=None,
        **kwargs,
    ):
        legacy = {flag: kwargs.pop(flag) for flag in _LEGACY_FLAGS if flag in kwargs}
        super().__init__(**kwargs)
        self.threshold_init = _threshold_value(threshold, self.name)
        if reset not in self.supported_resets:
            raise ValueError(
                f"{type(self).__name__} '{self.name}': `reset` must be one of {self.supported_resets}. "
                f"Received: {reset!r}."
            )
        owner = f"{type(self).__name__} '{self.name}'"
        # v_init is a fraction of the threshold.
        v_init = validation.check_number("v_init", v_init, minimum=0, maximum=1, below=True, owner=owner)
        if spike_value not in SPIKE_VALUES:
            raise ValueError(
                f"{type(self).__name__} '{self.name}': `spike_value` must be one of {SPIKE_VALUES}. "
                f"Received: {spike_value!r}."
            )
        timesteps = validation.check_number("timesteps", timesteps, minimum=0, strictly=True, integer=True, owner=owner)
        self.reset = reset
        self.v_init = float(v_init)
        self.spike_value = spike_value
        self.timesteps = int(timesteps)
        self.calibration_weights = calibrated.calibration_weights_from(
            calibration_weights, legacy, self.timesteps, owner
        )
        self.calibration_range = calibrated.range_from(calibration_range, owner)
        self.feature_shape = None

    @property
    def per_channel(self) -> bool:
        """Whether the layer has one threshold per channel."""
        return isinstance(self.threshold_init, list)

    def build(self, input_shape):
        self.feature_shape = tuple(input_shape[1:])
        if self.per_channel:
            channels = input_shape[-1]
            if channels != len(self.threshold_init):
                raise ValueError(
                    f"IntegrateAndFire '{self.name}': {len(self.threshold_init)} per-channel thresholds given "
                    f"but the input has {channels} channels. Received input shape: {tuple(input_shape)}."
                )
            shape = (channels,)
            initial = np.asarray(self.threshold_init, dtype="float32")
        else:
            shape = ()
            initial = np.float32(self.threshold_init)
        self.threshold = self.add_weight(
            name="threshold",
            shape=shape,
            initializer=keras.initializers.Constant(initial),
            trainable=False,
        )
        for name, role in self.calibration_weights.items():
            shape = calibrated.weight_shape(role, self.feature_shape, self.timesteps)
            setattr(self, name, self.add_weight(name=name, shape=shape, initializer="zeros", trainable=False))

    def calibration_roles(self) -> set[str]:
        """The roles of this layer's calibration weights (see :mod:`spkeras.layers.calibrated`)."""
        return set(self.calibration_weights.values())

    @property
    def adjusts_input(self) -> bool:
        """Whether calibrated currents are added to the input current (see :meth:`input_current`)."""
        return bool(self.calibration_roles() & {"channel_current", "step_current"})

    def input_current(self, current, step):
        """The current entering the membrane at ``step`` (0-based): synaptic current plus calibrated currents."""
        return calibrated.add_currents(self, current, step)

    def start_potential(self):
        """The potential at t = 0 (``v_init · θ``, plus calibrated offsets), broadcastable to the state."""
        return calibrated.add_potentials(self, self.v_init * self.threshold)

    # --- the neuron model, one small function per phase -------------------------------------------------

    def initial_state(self, batch_size):
        """Returns the state at t = 0: a tuple holding the membrane potential ``v_init · θ``.

        Args:
            batch_size: Number of samples (an int or a scalar tensor).
        """
        shape = (batch_size,) + tuple(self.feature_shape)
        return (ops.zeros(shape, dtype=self.compute_dtype) + self.start_potential(),)

    def charge(self, potential, current):
        """Integrates one step of input current."""
        return potential + current

    def fire(self, potential):
        """Returns the spikes of this step (1 where the potential reached θ, else 0)."""
        return ops.cast(potential >= self.threshold, potential.dtype)

    def reset_potential(self, potential, spikes):
        """Resets the neurons that fired: subtract θ (soft) or set to 0 (hard)."""
        if self.reset == "soft":
            return potential - spikes * self.threshold
        return ops.where(spikes > 0, ops.zeros_like(potential), potential)

    def emit(self, spikes):
        """Turns spikes into the value sent to the next layer (1 or θ per spike)."""
        if self.spike_value == "threshold":
            return spikes * self.threshold
        return spikes

    def step(self, current, state):
        """Advances the neurons by one time step.

        Args:
            current: Input current of this step, shape ``(batch,) + feature_shape``.
            state: The tuple returned by :meth:`initial_state` or by the previous step.

        Returns:
            ``(output, new_state, spikes)``: the value sent to the next layer, the new state, and the spikes
            emitted (used for spike counts).
        """
        (potential,) = state
        potential = self.charge(potential, current)
        spikes = self.fire(potential)
        if self._shares_scaled_spikes():  # θ·spikes computed once, for the reset and the output (same values)
            scaled = spikes * self.threshold
            return scaled, (potential - scaled,), spikes
        potential = self.reset_potential(potential, spikes)
        return self.emit(spikes), (potential,), spikes

    def _shares_scaled_spikes(self) -> bool:
        """Whether the stock soft reset and the stock θ-valued output both need ``spikes · θ``."""
        stock = (
            type(self).reset_potential is IntegrateAndFire.reset_potential and type(self).emit is IntegrateAndFire.emit
        )
        return stock and self.reset == "soft" and self.spike_value == "threshold"

    # --- closed form -------------------------------------------------------------------------------------

    def closed_form_count(self, current, timesteps):
        """Spike count after ``timesteps`` steps of the constant input ``current``, in closed form.

        Exact for a constant current: soft reset gives ``clip(floor((T·I + v0)/θ), 0, T)``; hard reset gives
        one spike at the first step where the potential reaches θ and then one every ``ceil(θ/I)`` steps.
        """
        threshold = self.threshold
        start = self.start_potential()
        steps = ops.cast(timesteps, self.compute_dtype)
        if self.reset == "soft":
            charge = ops.maximum(current, 0.0) * steps + start  # >= 0 unless a calibrated offset is negative
            if "neuron_potential" in self.calibration_roles():
                charge = ops.maximum(charge, 0.0)
            return ops.minimum(ops.floor(charge / threshold), steps)
        positive = ops.maximum(current, 1e-30)
        first = ops.maximum(ops.ceil((threshold - start) / positive), 1.0)
        period = ops.maximum(ops.ceil(threshold / positive), 1.0)
        count = ops.where(first <= steps, 1.0 + ops.floor((steps - first) / period), 0.0)
        return ops.where(current > 0, count, ops.zeros_like(count))

    def closed_form_input(self, current, timesteps):
        """The constant current of the closed form: ``current`` plus the calibrated currents averaged over T steps."""
        return calibrated.add_mean_currents(self, current, timesteps)

    def call(self, inputs):
        count = self.closed_form_count(self.closed_form_input(inputs, self.timesteps), self.timesteps)
        return self.emit(count / float(self.timesteps))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        threshold = self.threshold_init
        if self.built:
            values = np.asarray(self.threshold.numpy(), dtype="float64")
            threshold = [float(v) for v in values.reshape(-1)] if self.per_channel else float(values)
        config.update(
            {
                "threshold": threshold,
                "reset": self.reset,
                "v_init": self.v_init,
                "spike_value": self.spike_value,
                "timesteps": self.timesteps,
                "calibration_weights": dict(self.calibration_weights),
                "calibration_range": None if self.calibration_range is None else list(self.calibration_range),
            }
        )
        return config
