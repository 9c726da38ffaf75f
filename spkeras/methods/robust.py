"""Robust normalisation (Rueckauer et al., Front. Neurosci. 2017): λ_l = the p-th percentile.

The percentile (default 99.9) is taken over the positive activations of the layer, read from a streaming
log-histogram (bounded memory, see :mod:`spkeras.calibration`). Reset by subtraction.
"""

from spkeras.methods.base import ThresholdPolicy, check_percentile, register_method


@register_method("robust")
class RobustNorm(ThresholdPolicy):
    """λ = p-th percentile of the positive activations; soft reset.

    Args:
        percentile: p in (0, 100]; 100 equals max norm.

    Examples:
        >>> # snn = spkeras.convert(cnn, x_calibration, method="robust", percentile=99.99)
    """

    def __init__(self, percentile: float = 99.9, **options):
        super().__init__(**options)
        self.percentile = check_percentile(percentile, self.name)

    def site_scale(self, statistics):
        return statistics.percentile(self.percentile)

    def describe(self):
        return f"robust (p={self.percentile}, reset={self.reset})"
