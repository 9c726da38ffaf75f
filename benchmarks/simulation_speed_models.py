"""The models that benchmarks/simulation_speed.py times: untrained networks of the shapes of the MNIST CNN and the
CIFAR-10 VGG-small of the methods benchmark, and the ResNet-8 of benchmarks/low_latency.py; not a script."""

from __future__ import annotations


def _mnist_model():
    import keras

    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(16, 3),
            layers.BatchNormalization(),
            layers.ReLU(),
            layers.AveragePooling2D(2),
            layers.Conv2D(32, 3),
            layers.BatchNormalization(),
            layers.ReLU(),
            layers.AveragePooling2D(2),
            layers.Flatten(),
            layers.Dense(10),
        ],
        name="mnist_cnn",
    )


def _cifar_model():
    import keras

    layers = keras.layers
    blocks = [keras.Input((32, 32, 3))]
    for filters in (32, 32, None, 64, 64, None):
        if filters is None:
            blocks.append(layers.AveragePooling2D(2))
        else:
            blocks += [layers.Conv2D(filters, 3, padding="same"), layers.BatchNormalization(), layers.ReLU()]
    blocks += [layers.Flatten(), layers.Dense(128), layers.ReLU(), layers.Dense(10)]
    return keras.Sequential(blocks, name="cifar_vgg_small")


def _resnet_model():
    from low_latency_networks import cifar_resnet8

    return cifar_resnet8()


def build_model(name):
    """An untrained model of the given shape: "mnist", "cifar" or "resnet"."""
    return {"mnist": _mnist_model, "cifar": _cifar_model, "resnet": _resnet_model}[name]()


def timing_setup(model_name, batch_size, timesteps):
    """What the speed table, the profile and the bounds time: the ``ecc`` SNN of an untrained model of that shape,
    its BN-folded ANN compiled, and a seeded batch as tensors ``(snn, ann, x, y, seed)``."""
    import keras
    import numpy as np
    import tensorflow as tf
    from common import compiled_ann

    import spkeras

    keras.utils.set_random_seed(0)
    model = build_model(model_name)
    shape = tuple(model.inputs[0].shape[1:])
    x = np.random.default_rng(0).uniform(0, 1, (batch_size,) + shape).astype("float32")
    snn = spkeras.convert(model, x[:200], method="ecc", timesteps=timesteps)
    y = tf.constant(np.zeros(batch_size, "int64"))
    return snn, compiled_ann(model), tf.constant(x), y, tf.constant([0, 0], tf.int64)
