"""Helpers shared by the layer converters."""

from __future__ import annotations

import logging

import keras
import numpy as np

from spkeras.conversion.ir import Step
from spkeras.conversion.registry import ConversionContext
from spkeras.errors import ACTIVATION_FIX, UnsupportedLayerError

logger = logging.getLogger(__name__)


def numpy_weight(variable) -> np.ndarray:
    """A float64 NumPy copy of a Keras variable.

    Examples:
        >>> import keras
        >>> numpy_weight(keras.Variable([1.0, 2.0])).dtype
        dtype('float64')
    """
    return np.array(variable.numpy() if hasattr(variable, "numpy") else variable, dtype="float64", copy=True)


def check_channels_last(layer) -> None:
    """Refuses layers that are not channels-last.

    Examples:
        >>> import keras
        >>> check_channels_last(keras.layers.Conv2D(2, 3, data_format="channels_first", name="cf"))
        Traceback (most recent call last):
        ...
        spkeras.errors.UnsupportedLayerError: Cannot convert layer 'cf' (Conv2D): only data_format='channels_last' ...
    """
    data_format = getattr(layer, "data_format", "channels_last")
    if data_format != "channels_last":
        raise UnsupportedLayerError(
            layer,
            f"only data_format='channels_last' is supported. Received: data_format={data_format!r}. "
            "Rebuild the model with channels-last layers.",
        )


def check_exact_type(layer, layer_class) -> None:
    """Refuses subclasses of ``layer_class`` (their ``call`` may do something else).

    Examples:
        >>> import keras
        >>> class MyDense(keras.layers.Dense):
        ...     pass
        >>> check_exact_type(MyDense(2, name="mine"), keras.layers.Dense)
        Traceback (most recent call last):
        ...
        spkeras.errors.UnsupportedLayerError: Cannot convert layer 'mine' (MyDense): only plain Dense layers ...
    """
    if type(layer) is not layer_class:
        raise UnsupportedLayerError(
            layer,
            f"only plain {layer_class.__name__} layers are supported (not subclasses). Register a converter "
            f"for {type(layer).__name__} with spkeras.conversion.register_converter.",
        )


def linear_step(layer, kernel, bias, layer_class, config, *, layout: str = "dense", pads: bool = False) -> Step:
    """A ``"linear"`` step whose new layer is ``layer_class`` built from ``config`` with a bias, no activation.

    Examples:
        >>> import keras, numpy as np
        >>> dense = keras.layers.Dense(2, activation="relu", use_bias=False)
        >>> step = linear_step(dense, np.ones((3, 2)), np.zeros(2), keras.layers.Dense, dense.get_config())
        >>> layer = step.make_layer("copy")
        >>> step.kind, layer.name, layer.use_bias, layer.activation.__name__
        ('linear', 'copy', True, 'linear')
    """
    config = dict(config)
    config.update(activation="linear", use_bias=True, name=None)

    def make_layer(name):
        return layer_class.from_config({**config, "name": name})

    return Step(kind="linear", source=layer, make_layer=make_layer, kernel=kernel, bias=bias, layout=layout, pads=pads)


def depthwise_step(layer, kernel, bias, *, kernel_size, strides, padding, dilation_rate) -> Step:
    """A ``"linear"`` step whose new layer is a ``DepthwiseConv2D`` (the one place spkeras builds one).

    Depthwise, separable and grouped convolutions all become such a step; the depth multiplier comes from the
    kernel's shape ``(height, width, channels, multiplier)``.

    Examples:
        >>> import keras, numpy as np
        >>> conv = keras.layers.DepthwiseConv2D(3)
        >>> step = depthwise_step(conv, np.ones((3, 3, 4, 2)), np.zeros(8), kernel_size=(3, 3), strides=(1, 1),
        ...                       padding="same", dilation_rate=(1, 1))
        >>> step.layout, step.make_layer("dw").depth_multiplier
        ('depthwise', 2)
    """
    options = dict(
        kernel_size=kernel_size,
        strides=strides,
        padding=padding,
        depth_multiplier=int(kernel.shape[-1]),
        dilation_rate=dilation_rate,
    )

    def make_layer(name):
        return keras.layers.DepthwiseConv2D(**options, use_bias=True, name=name)

    return Step(
        kind="linear",
        source=layer,
        make_layer=make_layer,
        kernel=kernel,
        bias=bias,
        layout="depthwise",
        pads=padding != "valid",
    )


def structural(layer, map_scale=None) -> Step:
    """A ``"structural"`` step that re-creates ``layer`` from its config.

    Examples:
        >>> import keras
        >>> step = structural(keras.layers.AveragePooling2D(2))
        >>> step.kind, type(step.make_layer("pool")).__name__
        ('structural', 'AveragePooling2D')
    """
    config = layer.get_config()
    layer_class = type(layer)

    def make_layer(name):
        return layer_class.from_config({**config, "name": name})

    return Step(kind="structural", source=layer, make_layer=make_layer, map_scale=map_scale)


def activation_steps(layer, activation, context: ConversionContext) -> list[Step]:
    """Steps for an activation function used by ``layer`` (as a kwarg or an Activation layer)."""
    name = getattr(activation, "__name__", repr(activation))
    if activation is keras.activations.get("relu"):
        return [Step(kind="neuron", source=layer)]
    if activation is keras.activations.get("relu6"):
        return [Step(kind="neuron", source=layer, bound=6.0)]
    if activation is keras.activations.get("linear"):
        return []
    if context.is_output and any(activation is keras.activations.get(head) for head in ("softmax", "sigmoid")):
        logger.info("Dropping the output %s of '%s': the readout applies it to the decoded output.", name, layer.name)
        return []
    if activation is keras.activations.get("softmax"):
        reason = "softmax is only supported as the last operation of the model (it is dropped for the readout)."
    else:
        reason = (
            f"activation '{name}' has no spiking equivalent; only 'relu', 'relu6' (and a final 'softmax' or "
            "'sigmoid') are."
        )
    fix = ACTIVATION_FIX if activation is not keras.activations.get("softmax") else None
    raise UnsupportedLayerError(layer, reason + " Received: activation=" + repr(name) + ".", fix)
