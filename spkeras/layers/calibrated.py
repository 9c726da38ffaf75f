"""The weights that post-conversion calibration adds to a neuron layer, described by their role.

A neuron layer knows three *roles* of calibration weight, and nothing about the calibration modes that set them
(those are registered in :mod:`spkeras.calibration.modes`, each declaring the weights it needs):

- ``"channel_current"``: a current per channel added at every step (shape ``(channels,)``);
- ``"step_current"``: a current per step and channel added during the first T steps (shape ``(T, channels)``,
  T = the layer's ``timesteps``);
- ``"neuron_potential"``: an offset per neuron added to the initial potential (shape = the feature shape).

A layer's ``calibration_weights`` maps each weight's name to its role, in the order the weights are created and
applied. Files written before this mapping existed stored three flags (``calibrated_bias``,
``calibrated_potential``, ``calibrated_steps``); :func:`calibration_weights_from` translates them.
"""

from __future__ import annotations

import numpy as np
from keras import ops

ROLES = ("channel_current", "step_current", "neuron_potential")
# The weights of files written with the three flags of earlier versions, in their order of creation.
_LEGACY_FLAGS = (
    ("calibrated_bias", "bias_current", "channel_current"),
    ("calibrated_potential", "potential_offset", "neuron_potential"),
    ("calibrated_steps", "step_bias", "step_current"),
)


def calibration_weights_from(value, legacy: dict, timesteps: int, owner: str) -> dict[str, str]:
    """Checks a ``calibration_weights`` argument (or translates the flags of earlier versions).

    Args:
        value: A mapping of weight name to role, or None.
        legacy: The flags ``calibrated_bias`` / ``calibrated_potential`` / ``calibrated_steps`` found in the
            layer's arguments (older ``.keras`` files), possibly empty.
        timesteps: The layer's T (the number of step currents of a ``"step_current"`` weight).
        owner: The layer, named in errors.

    Returns:
        A new dict from weight name to role.

    Examples:
        >>> calibration_weights_from({"bias_current": "channel_current"}, {}, 8, "IntegrateAndFire 'n'")
        {'bias_current': 'channel_current'}
        >>> calibration_weights_from(None, {"calibrated_steps": 8}, 8, "IntegrateAndFire 'n'")
        {'step_bias': 'step_current'}
    """
    weights = {}
    for flag, name, role in _LEGACY_FLAGS:
        if flag not in legacy:
            continue
        setting = legacy[flag]
        setting = setting.item() if isinstance(setting, (np.bool_, np.integer)) else setting
        if flag == "calibrated_steps":
            if isinstance(setting, bool) or not isinstance(setting, int) or setting not in (0, timesteps):
                raise ValueError(
                    f"{owner}: `{flag}` must be 0 or the layer's timesteps ({timesteps}). Received: "
                    f"{flag}={setting!r}. Convert again with calibrate='per_step' for this T."
                )
        elif not isinstance(setting, bool):
            raise TypeError(f"{owner}: `{flag}` must be True or False. Received: {flag}={setting!r}.")
        if setting:
            weights[name] = role
    if value is None:
        return weights
    if weights:
        raise ValueError(
            f"{owner}: pass `calibration_weights` or the older flags {sorted(legacy)}, not both. "
            f"Received: calibration_weights={value!r}."
        )
    if not hasattr(value, "items"):
        raise TypeError(f"{owner}: `calibration_weights` must map weight names to roles {ROLES}. Received: {value!r}.")
    for name, role in value.items():
        if not isinstance(name, str) or not name.isidentifier() or role not in ROLES:
            raise ValueError(
                f"{owner}: `calibration_weights` maps a weight name to one of {ROLES}. Received: {name!r}: {role!r}."
            )
    return dict(value)


def range_from(value, owner: str) -> tuple[float, float] | None:
    """Checks a ``calibration_range``: None, or ``(min, max)`` of finite numbers with min ≤ max.

    Examples:
        >>> range_from([0, 1], "IntegrateAndFire 'n'")
        (0.0, 1.0)
    """
    if value is None:
        return None
    try:
        low, high = (float(item) for item in value)
    except (TypeError, ValueError):
        low, high = np.nan, np.nan
    if not (np.isfinite(low) and np.isfinite(high) and low <= high):
        raise ValueError(f"{owner}: `calibration_range` must be (min, max) of finite numbers. Received: {value!r}.")
    return low, high


def weight_shape(role: str, feature_shape: tuple, timesteps: int) -> tuple:
    """The shape of a calibration weight of ``role`` on a layer of ``feature_shape`` simulated for T steps.

    Examples:
        >>> weight_shape("step_current", (4, 4, 8), 16)
        (16, 8)
    """
    channels = (feature_shape[-1],)
    return {"channel_current": channels, "step_current": (timesteps,) + channels}.get(role, tuple(feature_shape))


def add_currents(layer, current, step):
    """``current`` plus the layer's calibrated currents of ``step`` (0-based), in the layer's weight order."""
    for name, role in layer.calibration_weights.items():
        weight = getattr(layer, name)
        if role == "channel_current":
            current = current + weight
        elif role == "step_current":
            count = weight.shape[0]
            bias = ops.take(weight, ops.minimum(step, count - 1), axis=0)
            current = current + ops.where(step < count, bias, ops.zeros_like(bias))
    return current


def add_mean_currents(layer, current, timesteps):
    """``current`` plus the layer's calibrated currents averaged over ``timesteps`` steps (the closed form)."""
    for name, role in layer.calibration_weights.items():
        weight = getattr(layer, name)
        if role == "channel_current":
            current = current + weight
        elif role == "step_current":
            steps = ops.cast(timesteps, layer.compute_dtype)
            used = ops.cast(ops.arange(weight.shape[0]) < ops.cast(timesteps, "int32"), layer.compute_dtype)
            current = current + ops.sum(weight * used[:, None], axis=0) / steps
    return current


def add_potentials(layer, start):
    """``start`` plus the layer's calibrated initial-potential offsets."""
    for name, role in layer.calibration_weights.items():
        if role == "neuron_potential":
            start = start + getattr(layer, name)
    return start
