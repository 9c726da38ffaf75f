"""TerMapping (Ma / Yu et al., TNNLS 2021): threshold balancing with a double (negative) threshold.

Thresholds come from the activation statistics (max by default, or a percentile); neurons are
:class:`~spkeras.layers.TernaryIntegrateAndFire`: a neuron that over-fired emits negative spikes while its net
count is positive. The paper's exact details are unconfirmed (see METHODS.md); this is the rule described there.
"""

from spkeras.methods.base import ThresholdPolicy, check_percentile, register_method


@register_method("termapping")
class TernaryMapping(ThresholdPolicy):
    """Max (or percentile) threshold balancing + ternary spikes (double threshold).

    Args:
        percentile: λ = this percentile of the positive activations (100 = the maximum).

    Examples:
        >>> # snn = spkeras.convert(cnn, x_calibration, method="termapping")
    """

    neuron = "ternary"

    def __init__(self, percentile: float = 100.0, **options):
        super().__init__(**options)
        self.percentile = check_percentile(percentile, self.name)

    def site_scale(self, statistics):
        return statistics.percentile(self.percentile)

    def describe(self):
        return f"{self.name} (p={self.percentile}, neuron={self.neuron})"
