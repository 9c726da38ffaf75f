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
        >>> import numpy as np
        >>> from spkeras.calibration import collect_statistics
        >>> import keras
        >>> inputs = keras.Input((1,))
        >>> relu = keras.layers.ReLU()
        >>> (stats,) = collect_statistics(keras.Model(inputs, relu(inputs)), [relu], np.arange(1.0, 1001.0)[:, None])
        >>> round(RobustNorm(percentile=50).site_scale(stats))  # the median of 1..1000
        500
    """

    def __init__(self, percentile: float = 99.9, **options):
        super().__init__(**options)
        self.percentile = check_percentile(percentile, self.name)

    def site_scale(self, statistics):
        return statistics.percentile(self.percentile)

    def describe(self):
        return f"robust (p={self.percentile}, reset={self.reset})"
