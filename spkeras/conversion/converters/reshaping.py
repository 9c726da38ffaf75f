"""Converters for weight-free linear layers that move, copy, crop, pad or average values.

They are ``"structural"`` steps, applied unchanged to spikes (the simulator runs them on every step's tensor).
Layers that keep the channel axis (cropping, up-sampling, 1-D padding and average pooling) keep per-channel
scales; ``Reshape`` and ``Permute`` map them by applying the layer to the channel index, and refuse (at
planning) a per-channel scale they would mix within one channel.
"""

from __future__ import annotations

import keras
import numpy as np

from spkeras.conversion.converters.common import check_channels_last, structural
from spkeras.conversion.registry import register_converter
from spkeras.errors import UnsupportedLayerError


def channel_map_scale(layer):
    """A ``map_scale`` for a layer that moves values: the output channel scale read off the input channel index.

    The layer is applied (eagerly, no graph node is added) to a tensor holding each value's input channel
    index; every output channel must then come from one input channel.

    Examples:
        >>> import keras, numpy as np
        >>> reshape = keras.layers.Reshape((2, 2, 2))
        >>> _ = reshape(keras.Input((4, 2)))  # the channel axis is kept
        >>> channel_map_scale(reshape)(np.array([1.0, 5.0])).tolist()
        [1.0, 5.0]
        >>> permute = keras.layers.Permute((2, 1))
        >>> _ = permute(keras.Input((2, 3)))  # the 2 positions become the channels
        >>> try:
        ...     channel_map_scale(permute)(np.array([1.0, 2.0, 3.0]))
        ... except ValueError as error:
        ...     print(str(error)[:40])
        'permute' (Permute) mixes input channels
    """
    input_shape = tuple(int(d) for d in layer.input.shape[1:])

    def map_scale(scale):
        if np.ndim(scale) == 0:
            return scale
        index = np.broadcast_to(np.arange(input_shape[-1], dtype="float32"), (1,) + input_shape)
        moved = keras.ops.convert_to_numpy(layer(index)).astype("int64")
        moved = moved.reshape(-1, moved.shape[-1])
        if not np.all(moved == moved[:1]) and not np.allclose(scale[moved], scale[moved[:1]]):
            raise ValueError(
                f"'{layer.name}' ({type(layer).__name__}) mixes input channels with different scales within one "
                "output channel; convert with spike_value='threshold' (every tensor then keeps the ANN's scale)."
            )
        return np.asarray(scale)[moved[0]]

    return map_scale


@register_converter(keras.layers.Reshape, keras.layers.Permute)
def convert_reshape(layer, context):
    return [structural(layer, map_scale=channel_map_scale(layer))]


@register_converter(
    keras.layers.Cropping1D,
    keras.layers.Cropping2D,
    keras.layers.ZeroPadding1D,
    keras.layers.UpSampling1D,
    keras.layers.AveragePooling1D,
    keras.layers.GlobalAveragePooling1D,
)
def convert_channel_preserving_1d(layer, context):
    check_channels_last(layer)
    return [structural(layer)]


@register_converter(keras.layers.UpSampling2D)
def convert_upsampling2d(layer, context):
    check_channels_last(layer)
    if layer.interpolation not in ("nearest", "bilinear"):
        raise UnsupportedLayerError(
            layer,
            "only 'nearest' and 'bilinear' up-sampling (averages with non-negative weights) are supported. "
            f"Received: interpolation={layer.interpolation!r}. Use interpolation='nearest' or 'bilinear'.",
        )
    return [structural(layer)]
