"""QCFS conversion (Bu et al., ICLR 2022): θ = the trained λ of each QCFS activation, initial potential θ/2.

A model prepared with :func:`spkeras.prepare_for_conversion` and fine-tuned has a
:class:`~spkeras.layers.QuantizedClipFloorShift` activation at every neuron site, whose λ is the site's scale;
soft reset and ``v_init = 0.5`` make the SNN's mean output over T = L steps equal to the activation, and its
expected error zero for any T. No calibration data is needed (it is allowed, e.g. for ``calibrate=``).
``spkeras.convert`` picks this method by default for such models.
"""

from __future__ import annotations

from spkeras.methods.base import register_method
from spkeras.methods.opi import OptimalPotentialInitialisation


@register_method("qcfs")
class QuantizedClipFloorShiftConversion(OptimalPotentialInitialisation):
    """θ = λ of each QCFS (or clipped ReLU) site, initial potential θ/2, soft reset.

    Args:
        percentile: For plain ReLUs left in the model: λ = this percentile of the activations (needs data).
        negative_threshold: None (plain IF neurons) or a fraction in [0, 1]: ternary neurons that take a spike
            back (``0``: the symmetric rule; at T = L the net count is then the QCFS activation's level whenever
            one spike per step can keep up). See :class:`~spkeras.methods.opi.OptimalPotentialInitialisation`.

    Examples:
        >>> import spkeras
        >>> cnn = spkeras.load_model(spkeras.demo.DEMO_MODEL_PATH)
        >>> snn = spkeras.convert(spkeras.prepare_for_conversion(cnn, levels=4), None, method="qcfs", timesteps=4)
        >>> sorted({(float(layer.threshold.numpy()), layer.v_init) for layer in snn.layers if hasattr(layer, "step")})
        [(1.0, 0.5)]
    """

    def describe(self):
        signed = "" if self.negative_threshold is None else f", negative_threshold={self.negative_threshold:g}"
        return f"qcfs (v_init={self.v_init}{signed})"
