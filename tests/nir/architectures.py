"""Tiny, untrained versions of the benchmark architectures, for export tests of their default conversions.

- :func:`cifar_resnet`: ResNet with stride-2 ``padding="same"`` convolutions on even inputs (Keras pads (0, 1))
  and 1×1 projection shortcuts, like ``benchmarks/low_latency.py``'s ResNet-8;
- :func:`mobilenet`: ``Rescaling(1/255)`` inside, depthwise convolutions (stride 2, "same"), ReLU6 and inverted
  residuals with linear bottlenecks, like ``benchmarks/architectures.py``'s MobileNet-style net;
- :func:`max_pool_vgg`: [Conv-BN-ReLU ×2, MaxPooling2D] blocks, like ``benchmarks/max_pooling.py``'s VGG.
"""

from __future__ import annotations

import keras
import numpy as np

layers = keras.layers


def _conv_bn(x, filters, kernel, strides=1, relu=None):
    x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    return x if relu is None else layers.ReLU(relu)(x)


def cifar_resnet(size=8, widths=(4, 8)):
    inputs = keras.Input((size, size, 3))
    x = _conv_bn(inputs, widths[0], 3, relu=None)
    x = layers.ReLU()(x)
    for stage, filters in enumerate(widths):
        strides = 1 if stage == 0 else 2
        y = layers.ReLU()(_conv_bn(x, filters, 3, strides))
        y = _conv_bn(y, filters, 3)
        shortcut = x if strides == 1 and x.shape[-1] == filters else _conv_bn(x, filters, 1, strides)
        x = layers.ReLU()(layers.Add()([y, shortcut]))
    outputs = layers.Dense(3)(layers.GlobalAveragePooling2D()(x))
    return keras.Model(inputs, outputs, name="tiny_resnet")


def mobilenet(size=8):
    def inverted_residual(x, filters, strides, expansion=2):
        inputs = x
        x = _conv_bn(x, int(x.shape[-1]) * expansion, 1, relu=6.0)
        x = layers.DepthwiseConv2D(3, strides=strides, padding="same", use_bias=False)(x)
        x = layers.ReLU(6.0)(layers.BatchNormalization()(x))
        x = _conv_bn(x, filters, 1)  # linear bottleneck
        return layers.Add()([inputs, x]) if strides == 1 and int(inputs.shape[-1]) == filters else x

    inputs = keras.Input((size, size, 3))
    x = layers.Rescaling(1.0 / 255)(inputs)
    x = _conv_bn(x, 4, 3, relu=6.0)
    x = inverted_residual(x, 4, 1)
    x = inverted_residual(x, 6, 2)
    x = inverted_residual(x, 6, 1)
    x = layers.Dropout(0.2)(layers.GlobalAveragePooling2D()(_conv_bn(x, 8, 1, relu=6.0)))
    return keras.Model(inputs, layers.Dense(3)(x), name="tiny_mobilenet")


def max_pool_vgg(size=8):
    stack = [keras.Input((size, size, 3))]
    for filters in (4, 8):
        for _ in range(2):
            stack += [layers.Conv2D(filters, 3, padding="same", use_bias=False), layers.BatchNormalization()]
            stack.append(layers.ReLU())
        stack.append(layers.MaxPooling2D(2))
    stack += [layers.Flatten(), layers.Dropout(0.3), layers.Dense(3)]
    return keras.Sequential(stack, name="tiny_vgg")


ARCHITECTURES = {"resnet": (cifar_resnet, 1.0), "mobilenet": (mobilenet, 255.0), "vgg": (max_pool_vgg, 1.0)}


def images(rng, name, count, size=8):
    """Uniform images in the range the architecture expects (0–255 for the MobileNet's Rescaling)."""
    return (rng.uniform(0, 1, (count, size, size, 3)) * ARCHITECTURES[name][1]).astype("float32")


def build(name, seed=0):
    """The untrained architecture with batch-norm statistics that are not the identity (seeded)."""
    keras.utils.set_random_seed(seed)
    model = ARCHITECTURES[name][0]()
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            gamma, beta, mean, variance = layer.get_weights()
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, gamma.shape),
                    rng.uniform(-0.2, 0.3, beta.shape),
                    rng.uniform(-0.2, 0.2, mean.shape),
                    rng.uniform(0.5, 2.0, variance.shape),
                ]
            )
    return model
