"""Tiny models built for tests (random weights, fixed seeds)."""

import keras
import numpy as np


def tiny_cnn(seed: int = 0, functional: bool = True, batchnorm: bool = True) -> keras.Model:
    """Conv-BN-ReLU-AvgPool-Conv-ReLU-Flatten-Dense-ReLU-Dense with random but sensible weights."""
    keras.utils.set_random_seed(seed)
    layers = [
        keras.layers.Conv2D(6, 3, use_bias=not batchnorm),
        *([keras.layers.BatchNormalization(epsilon=0.01)] if batchnorm else []),
        keras.layers.ReLU(),
        keras.layers.AveragePooling2D(2),
        keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(12, activation="relu"),
        keras.layers.Dense(4),
    ]
    if functional:
        inputs = keras.Input((10, 10, 2))
        tensor = inputs
        for layer in layers:
            tensor = layer(tensor)
        model = keras.Model(inputs, tensor)
    else:
        model = keras.Sequential([keras.Input((10, 10, 2)), *layers])
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            channels = layer.gamma.shape[0]
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, channels),
                    rng.uniform(-0.2, 0.2, channels),
                    rng.uniform(-0.1, 0.1, channels),
                    rng.uniform(0.5, 2.0, channels),
                ]
            )
        elif isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)) and layer.use_bias:
            kernel, bias = layer.get_weights()
            layer.set_weights([kernel, rng.uniform(0.0, 0.1, bias.shape)])
    return model


def tiny_inputs(count: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 1, (count, 10, 10, 2)).astype("float32")


def labels_from(model: keras.Model, x: np.ndarray) -> np.ndarray:
    return np.argmax(model.predict(x, verbose=0), axis=-1)
