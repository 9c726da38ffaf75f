"""The core converters: Conv2D, Dense, BatchNormalization, ReLU and activations, pooling, Add and Concatenate."""

from __future__ import annotations

import logging
import warnings

import keras
import numpy as np

from spkeras.conversion.converters.common import activation_steps, depthwise_step, linear_step, structural
from spkeras.conversion.converters.common import check_channels_last as _check_channels_last
from spkeras.conversion.converters.common import numpy_weight as _numpy
from spkeras.conversion.ir import Step
from spkeras.conversion.registry import register_converter
from spkeras.errors import ACTIVATION_FIX, UnsupportedLayerError
from spkeras.layers.pooling import SpikingMaxPooling1D, SpikingMaxPooling2D

logger = logging.getLogger(__name__)


@register_converter(keras.layers.Conv2D)
def convert_conv2d(layer, context):
    _check_channels_last(layer)
    if type(layer) is not keras.layers.Conv2D:
        raise UnsupportedLayerError(layer, "only plain Conv2D layers are supported (not subclasses).")
    kernel = _numpy(layer.kernel)
    channels = int(layer.input.shape[-1])
    if layer.groups != 1 and layer.groups == channels:
        # One group per input channel is a depthwise convolution (ConvNeXt's form): output f = c·M + m reads channel c.
        return _grouped_as_depthwise(layer, kernel, context)
    if layer.groups != 1:
        raise UnsupportedLayerError(
            layer,
            f"grouped convolutions are only supported with one group per input channel (a depthwise convolution). "
            f"Received: groups={layer.groups} for {channels} input channels. Split the layer into one Conv2D per "
            "group joined by a Concatenate.",
        )
    bias = _numpy(layer.bias) if layer.use_bias else np.zeros(kernel.shape[-1])
    step = linear_step(layer, kernel, bias, keras.layers.Conv2D, layer.get_config(), pads=layer.padding != "valid")
    return [step] + activation_steps(layer, layer.activation, context)


def _grouped_as_depthwise(layer, kernel, context) -> list[Step]:
    channels, filters = kernel.shape[-2] * layer.groups, kernel.shape[-1]
    depthwise = kernel.reshape(kernel.shape[:2] + (channels, filters // channels))
    bias = _numpy(layer.bias) if layer.use_bias else np.zeros(filters)
    step = depthwise_step(
        layer,
        depthwise,
        bias,
        kernel_size=layer.kernel_size,
        strides=layer.strides,
        padding=layer.padding,
        dilation_rate=layer.dilation_rate,
    )
    return [step] + activation_steps(layer, layer.activation, context)


@register_converter(keras.layers.Dense)
def convert_dense(layer, context):
    if type(layer) is not keras.layers.Dense:
        raise UnsupportedLayerError(layer, "only plain Dense layers are supported (not subclasses).")
    kernel = _numpy(layer.kernel)
    bias = _numpy(layer.bias) if layer.use_bias else np.zeros(kernel.shape[-1])
    config = layer.get_config()
    config.pop("lora_rank", None)
    config.pop("lora_alpha", None)
    step = linear_step(layer, kernel, bias, keras.layers.Dense, config)
    return [step] + activation_steps(layer, layer.activation, context)


@register_converter(keras.layers.BatchNormalization)
def convert_batch_normalization(layer, context):
    rank = len(layer.input.shape)
    axis = layer.axis if isinstance(layer.axis, int) else (layer.axis[0] if len(layer.axis) == 1 else None)
    if axis is None or axis not in (-1, rank - 1):
        raise UnsupportedLayerError(
            layer, f"only normalisation over the last (channel) axis is supported. Received: axis={layer.axis!r}."
        )
    variance = _numpy(layer.moving_variance)
    mean = _numpy(layer.moving_mean)
    gamma = _numpy(layer.gamma) if layer.scale else np.ones_like(variance)
    beta = _numpy(layer.beta) if layer.center else np.zeros_like(variance)
    scale = gamma / np.sqrt(variance + float(layer.epsilon))
    return [Step(kind="batchnorm", source=layer, scale=scale, offset=beta - mean * scale)]


@register_converter(keras.layers.ReLU)
def convert_relu(layer, context):
    if float(layer.negative_slope) != 0.0 or float(layer.threshold) != 0.0:
        raise UnsupportedLayerError(
            layer,
            "only ReLU with negative_slope=0 and threshold=0 (optionally clipped by max_value) has a spiking "
            f"equivalent. Received: negative_slope={layer.negative_slope}, threshold={layer.threshold}.",
            ACTIVATION_FIX,
        )
    bound = None if layer.max_value is None else float(layer.max_value)
    if bound is not None and bound <= 0:
        raise UnsupportedLayerError(layer, f"a clipped ReLU needs max_value > 0. Received: max_value={bound}.")
    return [Step(kind="neuron", source=layer, bound=bound)]


@register_converter(keras.layers.Activation)
def convert_activation(layer, context):
    return activation_steps(layer, layer.activation, context)


@register_converter(keras.layers.Softmax)
def convert_softmax(layer, context):
    if not context.is_output:
        raise UnsupportedLayerError(layer, "Softmax is only supported as the last layer (dropped for the readout).")
    return []


@register_converter(keras.layers.AveragePooling2D, keras.layers.GlobalAveragePooling2D, keras.layers.ZeroPadding2D)
def convert_channel_preserving(layer, context):
    _check_channels_last(layer)
    return [structural(layer)]


@register_converter(keras.layers.Flatten)
def convert_flatten(layer, context):
    _check_channels_last(layer)
    spatial = tuple(layer.input.shape[1:-1])
    if any(size is None for size in spatial) or layer.input.shape[-1] is None:
        raise UnsupportedLayerError(
            layer,
            "Flatten needs a known input shape (its output size fixes the next layer's weights). Received: input "
            f"shape {tuple(layer.input.shape)}. Build the model with a fixed input size (keras.Input((28, 28, 1))).",
        )
    positions = int(np.prod(spatial)) if spatial else 1
    return [structural(layer, map_scale=lambda scale: np.tile(scale, positions) if np.ndim(scale) else scale)]


@register_converter(keras.layers.MaxPooling2D, keras.layers.MaxPooling1D)
def convert_max_pooling(layer, context):
    _check_channels_last(layer)
    pool_size, strides, padding = layer.pool_size, layer.strides, layer.padding
    two_d = isinstance(layer, keras.layers.MaxPooling2D)
    average = keras.layers.AveragePooling2D if two_d else keras.layers.AveragePooling1D
    options = {"pool_size": pool_size, "strides": strides, "padding": padding}

    def make_average(name):
        return average(**options, name=name)

    if all(int(size) == 1 for size in np.atleast_1d(pool_size)):
        # A 1-wide window only subsamples (ResNet50V2's strided shortcuts): average pooling is the same op, exactly.
        return [Step(kind="structural", source=layer, make_layer=make_average)]
    if context.max_pooling == "spiking":
        maximum = keras.layers.MaxPooling2D if two_d else keras.layers.MaxPooling1D
        spiking = SpikingMaxPooling2D if two_d else SpikingMaxPooling1D
        # Max pooling commutes with a positive per-channel scale, so it stays a structural step: the ANN keeps
        # its max pooling and the spiking network gets the gated form (see spkeras.layers.pooling).
        return [
            Step(
                kind="structural",
                source=layer,
                make_layer=lambda name: maximum(**options, name=name),
                make_spiking_layer=lambda name: spiking(**options, name=name),
            )
        ]
    if context.max_pooling == "error":
        raise UnsupportedLayerError(
            layer,
            "max pooling is not rate-compatible and max_pooling='error' was requested. "
            f"Received: pool_size={tuple(int(size) for size in np.atleast_1d(pool_size))}, max_pooling='error'. "
            "Pass max_pooling='spiking' for gated spiking max pooling, or 'average' to replace it by average "
            "pooling.",
        )
    warnings.warn(
        f"{type(layer).__name__} layer '{layer.name}' is replaced by {average.__name__} with the same pool size, "
        "strides and padding (max_pooling='average'). This changes the network and usually costs accuracy; pass "
        "max_pooling='spiking' to keep max pooling as gated spiking max pooling, retrain the ANN with average "
        "pooling, or pass max_pooling='error' to refuse such models.",
        UserWarning,
        stacklevel=2,
    )
    return [Step(kind="structural", source=layer, make_layer=make_average)]


@register_converter(keras.layers.Add, keras.layers.Concatenate)
def convert_merge(layer, context):
    # Summing or stacking two tensors is exact on spikes when both carry the same scale; the converter makes
    # every tensor carry the ANN's own scale in networks with merges (spikes carry their threshold).
    return [Step(kind="merge", source=layer, make_layer=structural(layer).make_layer)]
