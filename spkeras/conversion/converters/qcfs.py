"""The converter of the QCFS activation: an integrate-and-fire site with θ = the trained λ."""

from __future__ import annotations

import numpy as np

from spkeras.conversion.ir import Step
from spkeras.conversion.registry import register_converter
from spkeras.layers.qcfs import QuantizedClipFloorShift


@register_converter(QuantizedClipFloorShift)
def convert_qcfs(layer, context):
    """A neuron site whose clip bound is the layer's trained λ (a float, or one per channel).

    Examples:
        >>> from spkeras.conversion.registry import ConversionContext
        >>> layer = QuantizedClipFloorShift(levels=4, threshold=2.5)
        >>> layer.build((None, 3))
        >>> [(step.kind, step.bound) for step in convert_qcfs(layer, ConversionContext())]
        [('neuron', 2.5)]
    """
    values = np.asarray(layer.threshold.numpy(), "float64").reshape(-1)
    values = np.maximum(values, 1e-6)
    bound = float(values[0]) if not layer.per_channel else values
    return [Step(kind="neuron", source=layer, bound=bound)]
