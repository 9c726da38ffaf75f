"""The threshold-policy interface and the registry of conversion methods by name."""

from __future__ import annotations

import numbers

import numpy as np

from spkeras.calibrate import SiteStatistics

_METHODS: dict[str, type[ThresholdPolicy]] = {}


class ThresholdPolicy:
    """Base class of a conversion method: turns calibration statistics into per-site scales λ.

    A method is one module that subclasses this and registers it with :func:`register_method`. Class
    attributes give the method's defaults, which the user may override in ``spkeras.convert``.

    Attributes:
        name: Registered name (set by :func:`register_method`).
        reset: Default reset mode (``"soft"`` or ``"hard"``).
        v_init: Default initial potential as a fraction of the threshold.
        spike_value: Default spike parametrisation (``"unit"`` or ``"threshold"``).
        gain: Current amplification of the linear layers that drive neurons (κ of ECC), unit mode only.

    Example:
        >>> from spkeras.methods import ThresholdPolicy, register_method
        >>> @register_method("half_max")
        ... class HalfMax(ThresholdPolicy):
        ...     def site_scale(self, statistics):
        ...         return 0.5 * statistics.maximum
    """

    name = "base"
    reset = "soft"
    v_init = 0.0
    spike_value = "unit"
    gain = 1.0

    def __init__(self, **options):
        if options:
            raise TypeError(
                f"Method '{self.name}' got unexpected option(s) {sorted(options)}. "
                f"Received: {options}. See help(spkeras.methods.get_method('{self.name}'))."
            )

    def site_scale(self, statistics: SiteStatistics) -> float | np.ndarray:
        """Returns λ for one neuron site: a positive float or one positive value per channel."""
        raise NotImplementedError

    def describe(self) -> str:
        """One line naming the method and its settings, for logs and tables."""
        return f"{self.name} (reset={self.reset}, v_init={self.v_init}, spike_value={self.spike_value})"


def register_method(name: str):
    """Registers a :class:`ThresholdPolicy` subclass under ``name`` (used by ``spkeras.convert(method=name)``)."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"A method name must be a non-empty string. Received: {name!r}.")

    def decorator(policy_class):
        policy_class.name = name
        _METHODS[name] = policy_class
        return policy_class

    return decorator


def available_methods() -> list[str]:
    """Names of the registered conversion methods."""
    return sorted(_METHODS)


def get_method(name: str) -> type[ThresholdPolicy]:
    """Returns the policy class registered under ``name``.

    Raises:
        ValueError: If no method has that name.
    """
    if name not in _METHODS:
        raise ValueError(
            f"Unknown conversion method {name!r}. Received: method={name!r}. Available: {available_methods()}."
        )
    return _METHODS[name]


def check_positive(name: str, value, method: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or value <= 0:
        raise ValueError(f"Method '{method}': `{name}` must be a positive number. Received: {name}={value!r}.")
    return float(value)
