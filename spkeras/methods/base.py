"""The threshold-policy interface and the registry of conversion methods by name."""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Callable

import numpy as np

from spkeras.calibration.statistics import SiteStatistics

_METHODS: dict[str, type[ThresholdPolicy]] = {}


@dataclasses.dataclass
class CalibrationContext:
    """What a method may use to compute its scales.

    Attributes:
        site_names: Name of each neuron site (the layer that becomes a neuron layer), in network order.
        statistics: Activation statistics of each site in the BN-folded ANN.
        bounds: Clip bound of each site (``ReLU(max_value=m)``), or None.
        ranks: Rank of each site's activation tensor including the batch axis (4 for conv maps, 2 for dense).
        measure_currents: ``measure_currents(scales, site, timesteps, samples=None)`` simulates the SNN built with
            ``scales`` on at most ``samples`` calibration inputs (one
            entry per site; entries at and after ``site`` are ignored) and returns the maximum per-step input
            current of ``site`` per channel, in ANN units. Used by methods that calibrate on the SNN itself.
    """

    site_names: list[str]
    statistics: list[SiteStatistics]
    bounds: list[float | None]
    ranks: list[int]
    measure_currents: Callable[..., np.ndarray]


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
        neuron: Neuron family: ``"if"``, ``"ternary"`` (double threshold) or ``"augmented"``.
        weight_bits: Signed weight bit width (0 = float weights).

    Examples:
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
    neuron = "if"
    weight_bits = 0

    def __init__(self, **options):
        if options:
            raise TypeError(
                f"Method '{self.name}' got unexpected option(s) {sorted(options)}. "
                f"Received: {options}. See help(spkeras.methods.get_method('{self.name}'))."
            )

    def site_scale(self, statistics: SiteStatistics) -> float | np.ndarray:
        """Returns λ for one neuron site from its statistics: a positive float or one value per channel."""
        raise NotImplementedError(f"{type(self).__name__} must implement site_scale() or compute_scales().")

    def compute_scales(self, context: CalibrationContext) -> list:
        """Returns λ for every site. The default applies :meth:`site_scale` to each site's statistics and,
        for a clipped ReLU, never exceeds its bound (the IF neuron then saturates exactly at the clip)."""
        scales = []
        for statistics, bound in zip(context.statistics, context.bounds):
            scale = np.asarray(self.site_scale(statistics), dtype="float64")
            scales.append(np.minimum(scale, bound) if bound is not None else scale)
        return scales

    def describe(self) -> str:
        """One line naming the method and its settings, for logs and tables."""
        return f"{self.name} (reset={self.reset}, v_init={self.v_init}, spike_value={self.spike_value})"


def register_method(name: str):
    """Registers a :class:`ThresholdPolicy` subclass under ``name`` (used by ``spkeras.convert(method=name)``).

    Examples:
        >>> from spkeras.methods import ThresholdPolicy, register_method
        >>> @register_method("p99_example")
        ... class Percentile99(ThresholdPolicy):
        ...     def site_scale(self, statistics):
        ...         return statistics.percentile(99.0)
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"A method name must be a non-empty string. Received: {name!r}.")

    def decorator(policy_class):
        policy_class.name = name
        _METHODS[name] = policy_class
        return policy_class

    return decorator


def available_methods() -> list[str]:
    """Names of the registered conversion methods.

    Examples:
        >>> "ecc" in available_methods()
        True
    """
    return sorted(_METHODS)


def get_method(name: str) -> type[ThresholdPolicy]:
    """Returns the policy class registered under ``name``.

    Examples:
        >>> get_method("robust")(percentile=99.9).percentile
        99.9

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


def check_percentile(value, method: str) -> float:
    """Validates a percentile in (0, 100] and returns it as a float."""
    value = check_positive("percentile", value, method)
    if value > 100:
        raise ValueError(f"Method '{method}': `percentile` must be in (0, 100]. Received: percentile={value!r}.")
    return value
