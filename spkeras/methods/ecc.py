"""Explicit current control, ECC (Wu, Yi & Huang, Front. Neurosci. 2022) — the SpKeras method.

- *Current normalisation*: λ_l = max of the post-BN, post-ReLU activation; linear layers get
  ``κ·W·λ_{l−1}/λ_l`` and bias current ``κ·b/λ_l``; threshold κ (amplification factor, default 100; it
  cancels in exact arithmetic and exists for fixed-point hardware).
- *Thresholding for residual elimination*: the membrane starts at ``v_init·θ`` (default 0.5), so that
  the spike count is rounded instead of floored. ``v_init=0`` disables it.
- *Consistency for batch normalisation*: BN is folded with its true statistics and its own epsilon
  (done for every method by the converter).
- Optional *weight quantisation* (``signed_bit=n``, 0 = off): each layer's weights become signed n-bit
  integers ``trunc(W·2^(n−1)/max|W|)`` and the bias and threshold are scaled by the same factor, so the
  rescaling stays exact. (The original SpKeras used θ = κ·max|W|, which is not scale-consistent.)
"""

from spkeras.methods.base import ThresholdPolicy, check_positive, register_method


@register_method("ecc")
class ExplicitCurrentControl(ThresholdPolicy):
    """ECC: max-based current normalisation with amplification κ and initial potential θ/2.

    Args:
        amp_factor: κ, the amplification factor (threshold of every neuron), default 100.
        signed_bit: Weight bit width including the sign; 0 (default) keeps float weights.

    Examples:
        >>> # snn = spkeras.convert(cnn, x_calibration, method="ecc", amp_factor=100)
    """

    v_init = 0.5

    def __init__(self, amp_factor: float = 100.0, signed_bit: int = 0, **options):
        super().__init__(**options)
        self.gain = check_positive("amp_factor", amp_factor, self.name)
        if isinstance(signed_bit, bool) or not isinstance(signed_bit, int) or signed_bit < 0 or signed_bit == 1:
            raise ValueError(
                f"Method 'ecc': `signed_bit` is 0 (off) or a bit width >= 2 including the sign. "
                f"Received: signed_bit={signed_bit!r}."
            )
        self.weight_bits = signed_bit

    def site_scale(self, statistics):
        return statistics.maximum

    def describe(self):
        return f"ecc (amp_factor={self.gain}, v_init={self.v_init}, signed_bit={self.weight_bits})"
