"""The networks of benchmarks/low_latency.py: the width-reduced CIFAR-10 ResNet-8 defined here and the cached
reference networks of benchmarks/methods_comparison.py; not a script."""

from __future__ import annotations

from unittest import mock

import keras
import methods_comparison_networks
from methods_comparison_networks import reference_model

TITLES = {"resnet": "CIFAR-10 ResNet-8 (16/32/64)", "vgg": "CIFAR-10 VGG-small", "mnist": "MNIST CNN"}
#: The cache name used by methods_comparison_networks.reference_model (the VGG and MNIST caches are shared with it).
CACHE_NAMES = {"resnet": "cifar_resnet8", "vgg": "cifar", "mnist": "mnist"}


def cifar_resnet8(widths=(16, 32, 64)) -> keras.Model:
    """ResNet-8 for 32×32 images, width-reduced: 7 3×3 convolutions and 2 1×1 projection shortcuts."""

    def conv_bn(x, filters, kernel, strides=1):
        x = keras.layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False)(x)
        return keras.layers.BatchNormalization()(x)

    inputs = keras.Input((32, 32, 3))
    x = keras.layers.ReLU()(conv_bn(inputs, widths[0], 3))
    for stage, filters in enumerate(widths):
        strides = 1 if stage == 0 else 2
        y = keras.layers.ReLU()(conv_bn(x, filters, 3, strides))
        y = conv_bn(y, filters, 3)
        shortcut = x if strides == 1 and x.shape[-1] == filters else conv_bn(x, filters, 1, strides)
        x = keras.layers.ReLU()(keras.layers.Add()([y, shortcut]))
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(10)(x)
    return keras.Model(inputs, outputs, name="cifar_resnet8")


def load_network(name: str, data) -> tuple[keras.Model, dict]:
    """The cached (or freshly trained) network; the ResNet is trained by train_cifar with its builder swapped."""
    if name != "resnet":
        return reference_model(CACHE_NAMES[name], data)
    with mock.patch.object(methods_comparison_networks, "cifar_vgg_small", cifar_resnet8):
        model, info = reference_model(CACHE_NAMES[name], data)
    info.setdefault("architecture", "ResNet-8, widths 16/32/64, identity + 1x1-conv-BN projection shortcuts")
    return model, info
