"""Optimised potential initialisation, OPI (Bu et al., AAAI 2022).

Threshold scaling replaces weight normalisation: θ_l = λ_l, the activation bound of layer l. The paper's ANN
uses a clipped ReLU ``clip(x, 0, λ_l)`` with a trainable λ_l; for a ``ReLU(max_value=λ)`` (or ``relu6``) the
bound is that clip value, which the IF neuron then reproduces exactly (it saturates at one spike per step).
For an unclipped ReLU the bound falls back to a percentile of the activations (default 100 = the maximum).
The expected conversion error is zero when the membrane starts at V(0) = θ/2 (``v_init=0.5``).
"""

import logging

import numpy as np

from spkeras.layers import TernaryIntegrateAndFire
from spkeras.methods.base import ThresholdPolicy, check_negative_threshold, check_percentile, register_method

logger = logging.getLogger(__name__)


@register_method("opi")
class OptimalPotentialInitialisation(ThresholdPolicy):
    """θ = the clip bound of each (clipped) ReLU, initial potential θ/2, soft reset.

    Args:
        percentile: For ReLUs without a clip bound: λ = this percentile of the positive activations.
        negative_threshold: None (default) for plain integrate-and-fire neurons; a fraction f in [0, 1] for
            :class:`~spkeras.layers.TernaryIntegrateAndFire` neurons that take a spike back at ``V ≤ −f·θ``
            (``0``: as soon as ``V < 0``, the symmetric rule that keeps the net count at the rounded accumulated
            input; docs/calibration.md, "Lowest latency").

    Examples:
        >>> import keras, numpy as np, spkeras
        >>> cnn = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8), keras.layers.ReLU(max_value=2.0),
        ...                         keras.layers.Dense(3)])
        >>> snn = spkeras.convert(cnn, np.random.default_rng(0).normal(size=(64, 4)).astype("float32"), method="opi",
        ...                       spike_value="threshold")
        >>> [(float(layer.threshold.numpy()), layer.v_init) for layer in snn.layers if hasattr(layer, "step")]
        [(2.0, 0.5)]
    """

    v_init = 0.5

    def __init__(self, percentile: float = 100.0, negative_threshold: float | None = None, **options):
        super().__init__(**options)
        self.percentile = check_percentile(percentile, self.name)
        self.negative_threshold = None
        if negative_threshold is not None:
            self.negative_threshold = check_negative_threshold(negative_threshold, self.name)
            self.neuron_class = TernaryIntegrateAndFire

    def neuron_options(self):
        return {} if self.negative_threshold is None else {"negative_threshold": self.negative_threshold}

    def needs_data(self, bounds):
        return any(bound is None for bound in bounds)

    def compute_scales(self, context):
        scales = []
        for name, statistics, bound in zip(context.site_names, context.statistics, context.bounds):
            if bound is None:
                logger.info("opi: '%s' is an unclipped ReLU; using the %gth percentile.", name, self.percentile)
                scales.append(np.float64(statistics.percentile(self.percentile)))
            else:
                scales.append(np.float64(bound))
        return scales

    def describe(self):
        signed = "" if self.negative_threshold is None else f", negative_threshold={self.negative_threshold:g}"
        return f"opi (v_init={self.v_init}{signed})"
