"""Reusable checks for spkeras Keras layers: shapes, config round trip and ``.keras`` save/load."""

from __future__ import annotations

import keras
import numpy as np


def check_layer(layer_factory, input_shape, tmp_path, *, expected_output_shape=None, seed=0, batch_size=3):
    """Checks a layer inside a tiny functional model and returns that model.

    Args:
        layer_factory: A callable returning a fresh, unbuilt layer (called once).
        input_shape: Shape of one sample (without the batch axis).
        tmp_path: A folder (pytest's ``tmp_path``) for the ``.keras`` file.
        expected_output_shape: Expected shape of one output sample; defaults to ``input_shape``.
        seed: Seed of the random test input.
        batch_size: Number of random samples fed through the model.

    Checks:
        - the symbolic and the computed output shapes equal ``(batch,) + expected_output_shape``;
        - ``get_config`` → ``from_config`` → ``get_config`` returns an equal config;
        - saving the model to ``.keras`` and loading it back gives identical outputs on random input.
    """
    input_shape = tuple(input_shape)
    expected = input_shape if expected_output_shape is None else tuple(expected_output_shape)
    layer = layer_factory()
    inputs = keras.Input(shape=input_shape)
    model = keras.Model(inputs, layer(inputs), name="layer_check")
    assert tuple(model.output.shape) == (None,) + expected, (model.output.shape, expected)

    x = np.random.default_rng(seed).uniform(-1.0, 2.0, (batch_size,) + input_shape).astype("float32")
    outputs = keras.ops.convert_to_numpy(model(x, training=False))
    assert outputs.shape == (batch_size,) + expected, (outputs.shape, expected)
    assert np.all(np.isfinite(outputs))

    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert type(clone) is type(layer)
    assert clone.get_config() == config

    path = tmp_path / f"{layer.name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    loaded_layer = loaded.get_layer(layer.name)
    assert type(loaded_layer) is type(layer)
    assert loaded_layer.get_config() == config
    for original, restored in zip(layer.get_weights(), loaded_layer.get_weights(), strict=True):
        np.testing.assert_array_equal(original, restored)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded(x, training=False)), outputs)
    return model
