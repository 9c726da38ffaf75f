"""Converters for the Keras layer types spkeras supports, one registered function per layer family."""

from __future__ import annotations

import logging
import warnings

import keras
import numpy as np

from spkeras.convert.ir import Step
from spkeras.convert.registry import ConversionContext, UnsupportedLayerError, register_converter

logger = logging.getLogger(__name__)


def _numpy(variable) -> np.ndarray:
    return np.array(keras.ops.convert_to_numpy(variable), dtype="float64", copy=True)


def _check_channels_last(layer):
    data_format = getattr(layer, "data_format", "channels_last")
    if data_format != "channels_last":
        raise UnsupportedLayerError(
            layer,
            f"only data_format='channels_last' is supported. Received: data_format={data_format!r}. "
            "Rebuild the model with channels-last layers.",
        )


def activation_steps(layer, activation, context: ConversionContext) -> list[Step]:
    """Steps for an activation function used by ``layer`` (as a kwarg or an Activation layer)."""
    name = getattr(activation, "__name__", repr(activation))
    if activation is keras.activations.get("relu"):
        return [Step(kind="neuron", source=layer)]
    if activation is keras.activations.get("relu6"):
        return [Step(kind="neuron", source=layer, bound=6.0)]
    if activation is keras.activations.get("linear"):
        return []
    if activation is keras.activations.get("softmax") and context.is_output:
        logger.info("Dropping the output softmax of '%s': the readout takes the argmax of the logits.", layer.name)
        return []
    if activation is keras.activations.get("softmax"):
        reason = "softmax is only supported as the last operation of the model (it is dropped for the readout)."
    else:
        reason = f"activation '{name}' has no spiking equivalent; only 'relu', 'relu6' (and a final 'softmax') are."
    raise UnsupportedLayerError(layer, reason + " Received: activation=" + repr(name) + ".")


def _linear_step(layer, kernel, bias, layer_class, config) -> Step:
    config = dict(config)
    config.update(activation="linear", use_bias=True, name=None)

    def make_layer(name):
        return layer_class.from_config({**config, "name": name})

    return Step(kind="linear", source=layer, make_layer=make_layer, kernel=kernel, bias=bias)


@register_converter(keras.layers.Conv2D)
def convert_conv2d(layer, context):
    _check_channels_last(layer)
    if type(layer) is not keras.layers.Conv2D:
        raise UnsupportedLayerError(layer, "only plain Conv2D layers are supported (not subclasses).")
    if layer.groups != 1:
        raise UnsupportedLayerError(layer, f"grouped convolutions are not supported. Received: groups={layer.groups}.")
    kernel = _numpy(layer.kernel)
    bias = _numpy(layer.bias) if layer.use_bias else np.zeros(kernel.shape[-1])
    step = _linear_step(layer, kernel, bias, keras.layers.Conv2D, layer.get_config())
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
    step = _linear_step(layer, kernel, bias, keras.layers.Dense, config)
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


@register_converter(keras.layers.Dropout, keras.layers.SpatialDropout2D, keras.layers.GaussianNoise)
def convert_inference_identity(layer, context):
    # Inference-time identities: they vanish from the spiking network.
    return []


def _structural(layer, map_scale=None) -> Step:
    config = layer.get_config()
    layer_class = type(layer)

    def make_layer(name):
        return layer_class.from_config({**config, "name": name})

    return Step(kind="structural", source=layer, make_layer=make_layer, map_scale=map_scale)


@register_converter(keras.layers.AveragePooling2D, keras.layers.GlobalAveragePooling2D, keras.layers.ZeroPadding2D)
def convert_channel_preserving(layer, context):
    _check_channels_last(layer)
    return [_structural(layer)]


@register_converter(keras.layers.Flatten)
def convert_flatten(layer, context):
    _check_channels_last(layer)
    positions = int(np.prod(layer.input.shape[1:-1])) if len(layer.input.shape) > 2 else 1
    return [_structural(layer, map_scale=lambda scale: np.tile(scale, positions) if np.ndim(scale) else scale)]


@register_converter(keras.layers.MaxPooling2D)
def convert_max_pooling(layer, context):
    _check_channels_last(layer)
    if context.max_pooling == "error":
        raise UnsupportedLayerError(
            layer,
            "max pooling is not rate-compatible and max_pooling='error' was requested. "
            "Pass max_pooling='average' to replace it by average pooling.",
        )
    warnings.warn(
        f"MaxPooling2D layer '{layer.name}' is replaced by AveragePooling2D with the same pool size, strides and "
        "padding (max pooling has no exact spiking equivalent). This changes the network and usually costs "
        "accuracy; retrain the ANN with average pooling for a lossless conversion, or pass "
        "max_pooling='error' to refuse such models.",
        UserWarning,
        stacklevel=2,
    )
    pool_size, strides, padding = layer.pool_size, layer.strides, layer.padding

    def make_layer(name):
        return keras.layers.AveragePooling2D(pool_size=pool_size, strides=strides, padding=padding, name=name)

    return [Step(kind="structural", source=layer, make_layer=make_layer)]


@register_converter(keras.layers.Add, keras.layers.Concatenate)
def convert_merge(layer, context):
    # Summing or stacking two tensors is exact on spikes when both carry the same scale; the converter makes
    # every tensor carry the ANN's own scale in networks with merges (spikes carry their threshold).
    return [Step(kind="merge", source=layer, make_layer=_structural(layer).make_layer)]
