"""Converters for preprocessing inside the model: ``Rescaling`` and ``Normalization``.

Both are a per-channel affine map ``x·scale + offset`` of their input and become a ``"preprocess"`` step. The
batch-norm folding pass (:func:`spkeras.conversion.batchnorm.fold_preprocessing`) folds it into the first linear
op when that is exact (the op is its only reader and does not zero-pad, or the offset is zero); otherwise it
stays as a :class:`~spkeras.layers.ChannelAffine` map applied to each step's current. With analog input that map
acts once on the image (the simulator computes the time-constant prefix once); with ``"poisson"``/``"count"``
encodings the encoder sees the model's raw input, so it must lie in [0, 1] for the rates to mean intensities.
"""

from __future__ import annotations

import keras
import numpy as np

from spkeras.conversion.converters.common import check_exact_type, numpy_weight
from spkeras.conversion.ir import Step
from spkeras.conversion.registry import register_converter
from spkeras.errors import UnsupportedLayerError


def _per_channel(layer, value, what: str) -> np.ndarray:
    """``value`` (a scalar or one value per channel, possibly with leading 1s) as one value per channel."""
    channels = int(layer.input.shape[-1])
    array = np.asarray(value, dtype="float64")
    if array.size == 1:
        return np.full(channels, float(array.reshape(-1)[0]))
    if array.size == channels and array.shape[-1] == channels:
        return array.reshape(-1).copy()
    raise UnsupportedLayerError(
        layer,
        f"only a scalar or per-channel (last axis) {what} is supported. Received: {what} of shape {array.shape} "
        f"for an input of shape {tuple(layer.input.shape)}. Apply per-position preprocessing to the data instead.",
    )


@register_converter(keras.layers.Rescaling)
def convert_rescaling(layer, context):
    check_exact_type(layer, keras.layers.Rescaling)
    scale = _per_channel(layer, layer.scale, "scale")
    offset = _per_channel(layer, layer.offset, "offset")
    return [Step(kind="preprocess", source=layer, scale=scale, offset=offset)]


@register_converter(keras.layers.Normalization)
def convert_normalization(layer, context):
    check_exact_type(layer, keras.layers.Normalization)
    if layer.mean is None or layer.variance is None:
        raise UnsupportedLayerError(
            layer, "the layer has no mean and variance yet. Call layer.adapt(data) or pass mean= and variance=."
        )
    mean = _per_channel(layer, numpy_weight(layer.mean), "mean")
    variance = _per_channel(layer, numpy_weight(layer.variance), "variance")
    # As Keras computes it: (x − mean) / max(√variance, ε), or x·max(√variance, ε) + mean with invert=True.
    std = np.maximum(np.sqrt(variance), keras.config.epsilon())
    if layer.invert:
        return [Step(kind="preprocess", source=layer, scale=std, offset=mean)]
    return [Step(kind="preprocess", source=layer, scale=1.0 / std, offset=-mean / std)]
