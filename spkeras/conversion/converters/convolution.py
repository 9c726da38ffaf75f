"""Converters for depthwise, separable and 1-D convolutions.

- ``DepthwiseConv2D``: one ``"linear"`` step with the ``"depthwise"`` kernel layout ``(kh, kw, C, M)``, so batch
  norms fold into it per output channel ``c·M + m`` and per-channel scales divide the right kernel entries.
- ``SeparableConv2D``: two ``"linear"`` steps, the depthwise convolution (strides, padding, dilation, depth
  multiplier; no bias) and the 1×1 pointwise convolution (with the bias), exactly as Keras computes it; a batch
  norm after it folds into the pointwise step.
- ``Conv1D``: one ``"linear"`` step (kernel ``(k, C_in, C_out)``, the usual layout).
"""

from __future__ import annotations

import keras
import numpy as np

from spkeras.conversion.converters.common import (
    activation_steps,
    check_channels_last,
    check_exact_type,
    depthwise_step,
    linear_step,
    numpy_weight,
)
from spkeras.conversion.ir import Step
from spkeras.conversion.registry import register_converter
from spkeras.errors import UnsupportedLayerError


def _bias(layer, channels: int) -> np.ndarray:
    return numpy_weight(layer.bias) if layer.use_bias else np.zeros(channels)


@register_converter(keras.layers.DepthwiseConv2D)
def convert_depthwise_conv2d(layer, context):
    check_channels_last(layer)
    check_exact_type(layer, keras.layers.DepthwiseConv2D)
    kernel = numpy_weight(layer.kernel)
    bias = _bias(layer, kernel.shape[-2] * kernel.shape[-1])
    step = depthwise_step(
        layer,
        kernel,
        bias,
        kernel_size=layer.kernel_size,
        strides=layer.strides,
        padding=layer.padding,
        dilation_rate=layer.dilation_rate,
    )
    return [step] + activation_steps(layer, layer.activation, context)


@register_converter(keras.layers.SeparableConv2D)
def convert_separable_conv2d(layer, context):
    check_channels_last(layer)
    check_exact_type(layer, keras.layers.SeparableConv2D)
    depthwise_kernel = numpy_weight(layer.depthwise_kernel)
    pointwise_kernel = numpy_weight(layer.pointwise_kernel)

    def make_pointwise(name):
        return keras.layers.Conv2D(pointwise_kernel.shape[-1], 1, use_bias=True, name=name)

    depthwise = depthwise_step(
        layer,
        depthwise_kernel,
        np.zeros(depthwise_kernel.shape[-2] * depthwise_kernel.shape[-1]),
        kernel_size=layer.kernel_size,
        strides=layer.strides,
        padding=layer.padding,
        dilation_rate=layer.dilation_rate,
    )
    pointwise = Step(
        kind="linear",
        source=layer,
        make_layer=make_pointwise,
        kernel=pointwise_kernel,
        bias=_bias(layer, pointwise_kernel.shape[-1]),
    )
    return [depthwise, pointwise] + activation_steps(layer, layer.activation, context)


@register_converter(keras.layers.Conv1D)
def convert_conv1d(layer, context):
    check_channels_last(layer)
    check_exact_type(layer, keras.layers.Conv1D)
    if layer.groups != 1:
        raise UnsupportedLayerError(
            layer,
            f"grouped convolutions are not supported. Received: groups={layer.groups}. Use groups=1, or split the "
            "layer into one Conv1D per group joined by a Concatenate.",
        )
    kernel = numpy_weight(layer.kernel)
    step = linear_step(
        layer,
        kernel,
        _bias(layer, kernel.shape[-1]),
        keras.layers.Conv1D,
        layer.get_config(),
        pads=layer.padding != "valid",
    )
    return [step] + activation_steps(layer, layer.activation, context)
