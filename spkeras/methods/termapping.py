"""TerMapping (Ma / Yu et al., TNNLS 2021): threshold balancing with a double (negative) threshold.

Thresholds come from the activation statistics (max by default, or a percentile); neurons are
:class:`~spkeras.layers.TernaryIntegrateAndFire`: a neuron that over-fired emits negative spikes while its net
count is positive. The paper's exact details are unconfirmed; this is our rule (docs/methods/termapping.md).
"""

from spkeras.layers import TernaryIntegrateAndFire
from spkeras.methods.base import ThresholdPolicy, check_negative_threshold, check_percentile, register_method


@register_method("termapping")
class TernaryMapping(ThresholdPolicy):
    """Max (or percentile) threshold balancing + ternary spikes (double threshold).

    Args:
        percentile: λ = this percentile of the positive activations (100 = the maximum).
        negative_threshold: Where an over-fired neuron emits a negative spike, as a fraction f of θ: at
            ``V ≤ −f·θ`` (default 1.0, TerMapping's double threshold) or, for 0, as soon as ``V < 0`` — with
            ``v_init=0.5`` the symmetric ±θ/2 rule, whose net count is the rounded accumulated input at every
            step (docs/methods/termapping.md; the low-latency recipe in docs/calibration.md).

    Examples:
        >>> import spkeras
        >>> snn = spkeras.convert(spkeras.demo.DEMO_MODEL_PATH, spkeras.demo.load_sample()["x_calibration"][:50],
        ...                       method="termapping")
        >>> sorted({type(layer).__name__ for layer in snn.layers if hasattr(layer, "step")})
        ['TernaryIntegrateAndFire']
    """

    neuron_class = TernaryIntegrateAndFire

    def __init__(self, percentile: float = 100.0, negative_threshold: float = 1.0, **options):
        super().__init__(**options)
        self.percentile = check_percentile(percentile, self.name)
        self.negative_threshold = check_negative_threshold(negative_threshold, self.name)

    def site_scale(self, statistics):
        return statistics.percentile(self.percentile)

    def neuron_options(self):
        return {} if self.negative_threshold == 1.0 else {"negative_threshold": self.negative_threshold}

    def describe(self):
        rule = "" if self.negative_threshold == 1.0 else f", negative_threshold={self.negative_threshold:g}"
        return f"{self.name} (p={self.percentile}{rule}, neuron={self.neuron_class.__name__})"
