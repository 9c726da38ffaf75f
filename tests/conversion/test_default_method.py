"""The default conversion: ``spkeras.convert`` without ``method`` is ``ecc`` with λ at the 99.9th percentile."""

import keras
import numpy as np

import spkeras
from spkeras.conversion.pipeline import DEFAULT_METHOD_OPTIONS
from spkeras.layers import IntegrateAndFire


def _thresholds(snn):
    return [np.asarray(layer.threshold.numpy()) for layer in snn.layers if isinstance(layer, IntegrateAndFire)]


def _heavy_tailed_net():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6,))
    hidden = keras.layers.Dense(16, activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Dense(3)(hidden))


def _data():
    x = np.random.default_rng(1).normal(size=(2000, 6)).astype("float32")
    x[::97] *= 30.0  # a few outliers: the maximum is far above the 99.9th percentile
    return x


def test_default_is_ecc_with_the_percentile_option():
    model, x = _heavy_tailed_net(), _data()
    default = spkeras.convert(model, x, timesteps=32)
    explicit = spkeras.convert(model, x, method="ecc", timesteps=32, **DEFAULT_METHOD_OPTIONS["ecc"])
    paper = spkeras.convert(model, x, method="ecc", timesteps=32)
    scale = [a.get_weights()[0] for a in default.layers if isinstance(a, keras.layers.Dense)]
    same = [a.get_weights()[0] for a in explicit.layers if isinstance(a, keras.layers.Dense)]
    for a, b in zip(scale, same):
        np.testing.assert_array_equal(a, b)
    first = [a.get_weights()[0] for a in paper.layers if isinstance(a, keras.layers.Dense)][0]
    # λ = max (the paper) is larger than the percentile: the first layer's normalised weights are smaller.
    assert np.abs(first).sum() < np.abs(scale[0]).sum()


def test_an_explicit_percentile_overrides_the_default():
    model, x = _heavy_tailed_net(), _data()
    default_max = spkeras.convert(model, x, timesteps=32, percentile=100.0)
    paper = spkeras.convert(model, x, method="ecc", timesteps=32)
    for a, b in zip(default_max.get_weights(), paper.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_defaults_apply_only_when_the_method_is_not_given():
    model, x = _heavy_tailed_net(), _data()
    # "max" takes no percentile option: forcing the default's options on it would raise a TypeError.
    snn = spkeras.convert(model, x, method="max", timesteps=8)
    assert len(_thresholds(snn)) == 1
