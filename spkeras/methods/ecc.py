"""Explicit current control, ECC (Wu, Yi & Huang, Front. Neurosci. 2022) — the SpKeras method.

- *Current normalisation*: λ_l = max of the post-BN, post-ReLU activation; linear layers get
  ``κ·W·λ_{l−1}/λ_l`` and bias current ``κ·b/λ_l``; threshold κ (amplification factor, default 100; it
  cancels in exact arithmetic and exists for fixed-point hardware).
- *Thresholding for residual elimination*: the membrane starts at ``v_init·θ`` (default 0.5), so that
  the spike count is rounded instead of floored. ``v_init=0`` disables it.
- *Consistency for batch normalisation*: BN is folded with its true statistics and its own epsilon
  (done for every method by the converter).
- Optional *percentile* λ (``percentile=p``, default 100 = the maximum, as in the paper): well-trained networks
  have heavy-tailed activations (max 1.7–2.5× the 99.9th percentile on a 91 % CIFAR-10 ResNet-20), so the maximum
  leaves most neurons at a few percent of the rate range; ``percentile=99.9`` cut that ResNet-20's loss at
  T = 64 from 6 pp to under 1 pp (benchmarks/results/public_resnet20.md).
- Optional *weight quantisation* (``signed_bit=n``, 0 = off): each layer's weights become signed n-bit
  integers ``trunc(W·2^(n−1)/max|W|)`` and the bias and threshold are scaled by the same factor, so the
  rescaling stays exact. (The original SpKeras used θ = κ·max|W|, which is not scale-consistent.)

The amplification and the quantisation are this module's :class:`AmplifiedWeights` transform.
"""

from __future__ import annotations

import numpy as np

from spkeras import validation
from spkeras.methods.base import (
    ThresholdPolicy,
    WeightTransform,
    check_percentile,
    check_positive,
    register_method,
)


class AmplifiedWeights(WeightTransform):
    """ECC's weight transform: amplification κ and optional signed integer weights.

    Args:
        gain: κ, applied to the linear layers that drive neurons (``spike_value="unit"``).
        weight_bits: Signed bit width of every linear layer's weights (sign included); 0 keeps floats.

    Examples:
        >>> import numpy as np
        >>> kernel, bias, factor = AmplifiedWeights(gain=100, weight_bits=3).quantize(
        ...     np.array([[0.5], [-0.26]]), np.array([0.1]))
        >>> kernel.ravel().tolist(), factor
        ([4.0, -2.0], 8.0)
    """

    def __init__(self, gain: float = 1.0, weight_bits: int = 0):
        self.gain = float(gain)
        self.weight_bits = int(weight_bits)

    def quantize(self, kernel, bias):
        if not self.weight_bits:
            return kernel, bias, 1.0
        largest = float(np.max(np.abs(kernel)))
        factor = 2.0 ** (self.weight_bits - 1) / largest if largest > 0 else 1.0
        return np.trunc(kernel * factor), bias * factor, factor


@register_method("ecc")
class ExplicitCurrentControl(ThresholdPolicy):
    """ECC: max-based current normalisation with amplification κ and initial potential θ/2.

    Args:
        amp_factor: κ, the amplification factor (threshold of every neuron), default 100.
        signed_bit: Weight bit width including the sign; 0 (default) keeps float weights.
        percentile: λ is this percentile of the layer's positive activations; 100 (default) takes the exact
            maximum. 99.9 suits well-trained networks with heavy-tailed activations.

    Examples:
        >>> import spkeras
        >>> sample = spkeras.demo.load_sample()
        >>> snn = spkeras.convert(spkeras.demo.DEMO_MODEL_PATH, sample["x_calibration"][:100], method="ecc",
        ...                       amp_factor=100, signed_bit=8)
        >>> sorted({float(layer.threshold.numpy().max()) > 100 for layer in snn.layers if hasattr(layer, "step")})
        [True]
        >>> ExplicitCurrentControl(percentile=99.9).describe()
        'ecc (amp_factor=100.0, v_init=0.5, signed_bit=0, percentile=99.9)'
    """

    v_init = 0.5

    def __init__(self, amp_factor: float = 100.0, signed_bit: int = 0, percentile: float = 100.0, **options):
        super().__init__(**options)
        self.percentile = check_percentile(percentile, self.name)
        self.amp_factor = check_positive("amp_factor", amp_factor, self.name)
        bits = validation.check_number("signed_bit", signed_bit, minimum=0, integer=True, owner="Method 'ecc'")
        if bits == 1:
            raise ValueError(
                f"Method 'ecc': `signed_bit` is 0 (off) or a bit width >= 2 including the sign. "
                f"Received: signed_bit={signed_bit!r}."
            )
        self.signed_bit = bits

    def site_scale(self, statistics):
        if self.percentile == 100.0:  # the exact maximum, not the histogram's estimate
            return statistics.maximum
        return statistics.percentile(self.percentile)

    def weight_transform(self) -> AmplifiedWeights:
        return AmplifiedWeights(gain=self.amp_factor, weight_bits=self.signed_bit)

    def describe(self):
        text = f"ecc (amp_factor={self.amp_factor}, v_init={self.v_init}, signed_bit={self.signed_bit}"
        return text + (f", percentile={self.percentile})" if self.percentile != 100.0 else ")")
