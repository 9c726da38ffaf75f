"""The threshold-policy interface and the registry of conversion methods by name.

A method is one module: a :class:`ThresholdPolicy` subclass registered with :func:`register_method`. The
policy turns calibration statistics into per-site scales λ (:meth:`~ThresholdPolicy.site_scale` or
:meth:`~ThresholdPolicy.compute_scales`) and owns everything else that is specific to it: the neuron layers it
wants (:meth:`~ThresholdPolicy.neuron_settings`, a class and that class's own arguments) and any transform of
the synaptic weights (:meth:`~ThresholdPolicy.weight_transform`, e.g. ECC's amplification and quantisation).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from spkeras import validation
from spkeras.calibration.statistics import SiteStatistics
from spkeras.layers import IntegrateAndFire, NeuronSettings

_METHODS: dict[str, type[ThresholdPolicy]] = {}


@dataclasses.dataclass
class CalibrationContext:
    """What a method may use to compute its scales.

    Attributes:
        site_names: Name of each neuron site (the layer that becomes a neuron layer), in network order.
        statistics: Activation statistics of each site in the BN-folded ANN.
        bounds: Clip bound of each site (``ReLU(max_value=m)``), or None.
        ranks: Rank of each site's activation tensor including the batch axis (4 for conv maps, 2 for dense).
        probe: A :class:`spkeras.conversion.probe.Probe`, which builds partial spiking networks from scales
            and measures them on the calibration data (e.g. ``probe.max_input_current``); used by methods that
            calibrate on the SNN itself.
    """

    site_names: list[str]
    statistics: list[SiteStatistics]
    bounds: list[float | None]
    ranks: list[int]
    probe: object = None


class WeightTransform:
    """How a method changes the synaptic weights beyond the scale propagation (the default: not at all).

    Attributes:
        gain: Current amplification of the linear layers that drive neurons (``spike_value="unit"`` only):
            their weights and bias are multiplied by it and the threshold becomes ``gain``.

    Examples:
        >>> import numpy as np
        >>> WeightTransform().quantize(np.ones((2, 1)), np.zeros(1))[2]
        1.0
    """

    gain = 1.0

    def quantize(self, kernel: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """Returns ``(kernel, bias, factor)``: the layer's new weights and the factor its scale was multiplied by."""
        return kernel, bias, 1.0


class ThresholdPolicy:
    """Base class of a conversion method: turns calibration statistics into per-site scales λ.

    Class attributes give the method's defaults, which the user may override in ``spkeras.convert``.

    Attributes:
        name: Registered name (set by :func:`register_method`).
        reset: Default reset mode (``"soft"`` or ``"hard"``).
        v_init: Default initial potential as a fraction of the threshold.
        spike_value: Default spike parametrisation (``"unit"`` or ``"threshold"``).
        neuron_class: The neuron layer class the method builds (a subclass of ``IntegrateAndFire``).

    Examples:
        >>> from spkeras.methods import ThresholdPolicy, register_method, unregister_method
        >>> @register_method("half_max")
        ... class HalfMax(ThresholdPolicy):
        ...     def site_scale(self, statistics):
        ...         return 0.5 * statistics.maximum
        >>> HalfMax().neuron_settings(timesteps=32).neuron_class.__name__
        'IntegrateAndFire'
        >>> unregister_method("half_max")
    """

    name = "base"
    reset = "soft"
    v_init = 0.0
    spike_value = "unit"
    neuron_class: type[IntegrateAndFire] = IntegrateAndFire

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

    def needs_data(self, bounds: list) -> bool:
        """Whether the method needs calibration data, given each site's clip bound (None: unclipped ReLU)."""
        return True

    def neuron_options(self) -> dict:
        """Constructor arguments of :attr:`neuron_class` beyond the shared ones (e.g. a leak factor)."""
        return {}

    def neuron_settings(
        self, timesteps: int, *, reset: str | None = None, v_init: float | None = None, spike_value: str | None = None
    ) -> NeuronSettings:
        """The neurons this method builds; ``None`` arguments take the method's defaults."""
        return NeuronSettings(
            neuron_class=self.neuron_class,
            reset=self.reset if reset is None else reset,
            v_init=self.v_init if v_init is None else v_init,
            spike_value=self.spike_value if spike_value is None else spike_value,
            timesteps=timesteps,
            options=self.neuron_options(),
        )

    def weight_transform(self) -> WeightTransform:
        """The method's transform of the synaptic weights (default: none)."""
        return WeightTransform()

    def describe(self) -> str:
        """One line naming the method and its settings, for logs and tables."""
        return f"{self.name} (reset={self.reset}, v_init={self.v_init}, spike_value={self.spike_value})"


def register_method(name: str):
    """Registers a :class:`ThresholdPolicy` subclass under ``name`` (used by ``spkeras.convert(method=name)``).

    Examples:
        >>> from spkeras.methods import ThresholdPolicy, register_method, unregister_method
        >>> @register_method("p99_example")
        ... class Percentile99(ThresholdPolicy):
        ...     def site_scale(self, statistics):
        ...         return statistics.percentile(99.0)
        >>> "p99_example" in available_methods()
        True
        >>> unregister_method("p99_example")
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"A method name must be a non-empty string. Received: {name!r}.")

    def decorator(policy_class):
        if not (isinstance(policy_class, type) and issubclass(policy_class, ThresholdPolicy)):
            raise TypeError(f"register_method expects a ThresholdPolicy subclass. Received: {policy_class!r}.")
        policy_class.name = name
        _METHODS[name] = policy_class
        return policy_class

    return decorator


def unregister_method(name: str) -> None:
    """Removes the method registered under ``name`` (e.g. one registered by a test).

    Raises:
        ValueError: If no method has that name.

    Examples:
        >>> unregister_method("no_such_method")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: Unknown conversion method 'no_such_method'. Received: method='no_such_method'. Available: ...
    """
    get_method(name)
    del _METHODS[name]


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
    if not isinstance(name, str) or name not in _METHODS:
        raise ValueError(
            f"Unknown conversion method {name!r}. Received: method={name!r}. Available: {available_methods()}."
        )
    return _METHODS[name]


def check_positive(name: str, value, method: str) -> float:
    """Validates a method option that must be a positive real number (see :func:`spkeras.validation.check_number`)."""
    return validation.check_number(name, value, minimum=0, strictly=True, owner=f"Method '{method}'")


def check_percentile(value, method: str) -> float:
    """Validates a percentile in (0, 100] and returns it as a float."""
    return validation.check_percentile(value, owner=f"Method '{method}'")


def check_negative_threshold(value, method: str) -> float:
    """Validates the ``negative_threshold`` of signed neurons (a fraction of θ in [0, 1]) and returns it as a float."""
    return validation.check_number("negative_threshold", value, minimum=0, maximum=1, owner=f"Method '{method}'")
