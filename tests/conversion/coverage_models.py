"""Tiny models for the layer-coverage tests (random weights, fixed seeds, BN statistics that are not the identity)."""

from __future__ import annotations

import keras
import numpy as np

L = keras.layers


def randomise_batchnorm(model: keras.Model, seed: int = 0) -> keras.Model:
    """Gives every BatchNormalization of ``model`` (nested ones too) non-trivial statistics."""
    rng = np.random.default_rng(seed)
    for layer in _all_layers(model):
        if isinstance(layer, L.BatchNormalization):
            channels = layer.moving_mean.shape[0]
            weights = {
                "gamma": rng.uniform(0.5, 1.5, channels),
                "beta": rng.uniform(-0.2, 0.2, channels),
                "moving_mean": rng.uniform(-0.1, 0.1, channels),
                "moving_variance": rng.uniform(0.5, 2.0, channels),
            }
            layer.set_weights([weights[w.path.split("/")[-1]] for w in layer.weights])
    return model


def _all_layers(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)
        else:
            yield layer


def functional(input_shape, *layers, name="coverage"):
    inputs = keras.Input(input_shape)
    tensor = inputs
    for layer in layers:
        tensor = layer(tensor)
    return keras.Model(inputs, tensor, name=name)


def inverted_residual_net(seed: int = 0, linear_bottleneck: bool = True) -> keras.Model:
    """A MobileNetV2-style net: ReLU6, depthwise blocks and an inverted residual with a linear bottleneck.

    With ``linear_bottleneck=False`` a ReLU6 follows the projection (same weights), so its output spikes.
    """
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((12, 12, 3))
    x = L.Rescaling(1 / 255.0)(inputs)
    x = L.Conv2D(8, 3, use_bias=False)(x)
    x = L.ReLU(6.0)(L.BatchNormalization()(x))
    shortcut = x
    x = L.ReLU(6.0)(L.BatchNormalization()(L.Conv2D(16, 1, use_bias=False)(x)))  # expand
    x = L.ReLU(6.0)(L.BatchNormalization()(L.DepthwiseConv2D(3, padding="same", use_bias=False)(x)))
    x = L.BatchNormalization(name="project_bn")(L.Conv2D(8, 1, use_bias=False, name="project")(x))  # linear
    if not linear_bottleneck:
        x = L.ReLU(6.0)(x)
    x = L.Add(name="residual")([x, shortcut])
    x = L.ReLU(6.0)(L.BatchNormalization()(L.Conv2D(16, 1, use_bias=False)(x)))  # next block's expansion
    x = L.GlobalAveragePooling2D()(x)
    outputs = L.Dense(5, activation="softmax")(L.Dropout(0.2)(x))
    return randomise_batchnorm(keras.Model(inputs, outputs, name="inverted_residual"), seed)


def tutorial_classifier(seed: int = 0) -> keras.Model:
    """The Keras tutorials' image classifier: a nested augmentation Sequential, Rescaling, conv blocks."""
    keras.utils.set_random_seed(seed)
    augmentation = keras.Sequential(
        [L.RandomFlip("horizontal"), L.RandomRotation(0.1), L.RandomZoom(0.1)], name="data_augmentation"
    )
    return keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            augmentation,
            L.Rescaling(1.0 / 255),
            L.Conv2D(8, 3, padding="same", activation="relu"),
            L.AveragePooling2D(2),
            L.Conv2D(8, 3, padding="same", activation="relu"),
            L.AveragePooling2D(2),
            L.Dropout(0.2),
            L.Flatten(),
            L.Dense(16, activation="relu"),
            L.Dense(4),
        ],
        name="tutorial",
    )


def images(count: int, shape=(12, 12, 3), seed: int = 1, high: float = 1.0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.0, high, (count,) + tuple(shape)).astype("float32")
