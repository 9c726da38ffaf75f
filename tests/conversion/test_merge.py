import keras
import numpy as np
import pytest

import spkeras
from spkeras.conversion import fold_model
from spkeras.simulate import record
from tests.model_zoo import tiny_inputs


def residual_model():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((10, 10, 2))
    a = keras.layers.Conv2D(8, 3, padding="same", use_bias=False)(inputs)
    a = keras.layers.BatchNormalization(epsilon=0.01)(a)
    a = keras.layers.ReLU()(a)
    b = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(a)
    b = keras.layers.Conv2D(8, 3, padding="same")(b)
    c = keras.layers.ReLU()(keras.layers.Add()([a, b]))
    d = keras.layers.Concatenate()([c, a])
    pooled = keras.layers.AveragePooling2D(2)(d)
    return keras.Model(inputs, keras.layers.Dense(4)(keras.layers.Flatten()(pooled)))


@pytest.mark.parametrize("method", ["ecc", "robust", "channelwise"])
def test_residual_add_and_concatenate_track_the_ann(method):
    model = residual_model()
    x = tiny_inputs(40)
    snn = spkeras.convert(model, x, method=method)
    kinds = [type(layer).__name__ for layer in snn.layers]
    assert "Add" in kinds and "Concatenate" in kinds
    logits = fold_model(model).predict(x, verbose=0)
    errors = [np.abs(record(snn, x, timesteps=t)["output"] - logits).mean() for t in (32, 256)]
    assert errors[1] < errors[0]
    assert errors[1] < 0.05 * np.abs(logits).mean() + 1e-3


def test_merge_of_refused_inputs_is_reported_once():
    inputs = keras.Input((4,))
    a = keras.layers.Dense(3, activation="tanh", name="bad")(inputs)
    b = keras.layers.Dense(3, activation="relu")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Add()([a, b])))
    with pytest.raises(ValueError, match="'bad'"):
        spkeras.convert(model, np.ones((2, 4), "float32"))
