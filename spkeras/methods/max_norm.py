"""Data-based max norm (Diehl et al., IJCNN 2015): λ_l = the largest activation of layer l.

The original uses reset to zero (``reset="hard"``, the default here); reset by subtraction is available
with ``reset="soft"``.
"""

from spkeras.methods.base import ThresholdPolicy, register_method


@register_method("max")
class MaxNorm(ThresholdPolicy):
    """λ = maximum activation over the calibration data; reset to zero by default.

    Examples:
        >>> import spkeras
        >>> snn = spkeras.convert(spkeras.demo.DEMO_MODEL_PATH, spkeras.demo.load_sample()["x_calibration"][:50],
        ...                       method="max")
        >>> sorted({layer.reset for layer in snn.layers if hasattr(layer, "step")})
        ['hard']
    """

    reset = "hard"

    def site_scale(self, statistics):
        return statistics.maximum
