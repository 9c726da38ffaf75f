"""Every registered method: a hand-computable rule and an end-to-end check on a tiny model."""

import keras
import numpy as np
import pytest

import spkeras
from spkeras.layers import AugmentedIntegrateAndFire, IntegrateAndFire, TernaryIntegrateAndFire
from spkeras.methods import available_methods
from tests.model_zoo import labels_from, tiny_cnn, tiny_inputs

ALL_METHODS = ["max", "robust", "ecc", "channelwise", "opi", "termapping", "augmapping"]


def _neurons(snn):
    return [layer for layer in snn.layers if isinstance(layer, IntegrateAndFire)]


def _thresholds(snn):
    return [keras.ops.convert_to_numpy(layer.threshold) for layer in _neurons(snn)]


def test_all_methods_are_registered():
    assert set(ALL_METHODS) <= set(available_methods())


@pytest.mark.parametrize("method", ALL_METHODS)
def test_tiny_model_tracks_the_ann_as_timesteps_grow(method):
    model = tiny_cnn(seed=3)
    x = tiny_inputs(60, seed=5)
    y = labels_from(model, x)
    snn = spkeras.convert(model, tiny_inputs(100, seed=6), method=method)
    result = spkeras.evaluate(snn, x, y, timesteps=128)
    assert result.accuracy_at(128) >= 0.9, result.accuracy[[3, 15, 63, 127]]
    assert result.accuracy_at(128) >= result.accuracy_at(4)


def _single_relu_model(weight=2.0):
    inputs = keras.Input((1,))
    hidden = keras.layers.Dense(1, activation="relu")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1)(hidden))
    model.layers[1].set_weights([np.array([[weight]]), np.zeros(1)])
    model.layers[2].set_weights([np.ones((1, 1)), np.zeros(1)])
    return model


def test_max_and_ecc_thresholds_by_hand():
    model = _single_relu_model(weight=2.0)
    x = np.array([[0.25], [1.5], [0.5]], "float32")  # activations 0.5, 3.0, 1.0 -> max 3
    max_snn = spkeras.convert(model, x, method="max")
    (kernel, bias) = max_snn.layers[1].get_weights()
    np.testing.assert_allclose(kernel, [[2.0 / 3.0]], rtol=1e-6)  # W / lambda, theta = 1
    np.testing.assert_allclose(_thresholds(max_snn)[0], 1.0)
    ecc = spkeras.convert(model, x, method="ecc", amp_factor=10)
    np.testing.assert_allclose(ecc.layers[1].get_weights()[0], [[20.0 / 3.0]], rtol=1e-6)  # kappa W / lambda
    np.testing.assert_allclose(_thresholds(ecc)[0], 10.0)
    np.testing.assert_allclose(ecc.layers[-1].get_weights()[0], [[3.0]], rtol=1e-6)  # readout W * lambda


def test_robust_threshold_is_the_percentile_by_hand():
    model = _single_relu_model(weight=1.0)
    x = np.arange(1, 1001, dtype="float32")[:, None] / 1000.0  # activations 0.001 .. 1.0
    snn = spkeras.convert(model, x, method="robust", percentile=50, spike_value="threshold")
    np.testing.assert_allclose(_thresholds(snn)[0], 0.5, rtol=5e-3)


def test_channelwise_thresholds_are_per_channel_max_currents():
    inputs = keras.Input((2, 2, 1))
    conv = keras.layers.Conv2D(2, 1, activation="relu")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Flatten()(conv)))
    model.layers[1].set_weights([np.array([[[[1.0, 3.0]]]]), np.array([0.0, 0.5])])
    x = np.array([[[[0.2], [0.4]], [[0.1], [0.3]]]], "float32")
    snn = spkeras.convert(model, x, method="channelwise")
    # First layer, analog input: the per-step current is constant, max per channel = max of W x + b.
    np.testing.assert_allclose(_thresholds(snn)[0], [0.4, 1.7], rtol=1e-6)
    assert _neurons(snn)[0].spike_value == "threshold"


def test_channelwise_dense_hidden_layers_get_one_threshold():
    model = tiny_cnn(seed=2)
    snn = spkeras.convert(model, tiny_inputs(50), method="channelwise", calibration_timesteps=8)
    thresholds = _thresholds(snn)
    assert thresholds[0].shape == (6,) and thresholds[1].shape == (8,) and thresholds[2].shape == ()


def test_channelwise_dense_neuron_thresholds_are_per_neuron_max_currents():
    inputs = keras.Input((2,))
    hidden = keras.layers.Dense(3, activation="relu")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1)(hidden))
    model.layers[1].set_weights([np.array([[1.0, 0.5, 2.0], [0.0, 1.0, -1.0]]), np.array([0.0, 0.25, 0.0])])
    x = np.array([[0.5, 1.0], [1.0, 0.5], [0.25, 0.0]], "float32")
    # First layer, analog input: per-step current W x + b, maximum per neuron over the samples.
    by_hand = np.maximum(x @ model.layers[1].get_weights()[0] + [0.0, 0.25, 0.0], 0.0).max(axis=0)
    snn = spkeras.convert(model, x, method="channelwise", dense_thresholds="neuron", calibration_timesteps=4)
    np.testing.assert_allclose(_thresholds(snn)[0], by_hand, rtol=1e-6)
    layer_wise = spkeras.convert(model, x, method="channelwise", calibration_timesteps=4)
    np.testing.assert_allclose(_thresholds(layer_wise)[0], by_hand.max(), rtol=1e-6)


def test_channelwise_refuses_an_unknown_dense_thresholds_value():
    with pytest.raises(
        ValueError,
        match=r"`dense_thresholds` must be one of \('layer', 'neuron'\)\. Received: dense_thresholds='channel'",
    ):
        spkeras.convert(tiny_cnn(seed=2), tiny_inputs(10), method="channelwise", dense_thresholds="channel")


def test_opi_uses_the_clip_bound_and_half_threshold_start():
    inputs = keras.Input((3,))
    hidden = keras.layers.Dense(4)(inputs)
    clipped = keras.layers.ReLU(max_value=0.75)(hidden)
    model = keras.Model(inputs, keras.layers.Dense(2)(clipped))
    snn = spkeras.convert(model, tiny_inputs(20)[:, 0, 0, :].repeat(2, axis=1)[:, :3], method="opi")
    neuron = _neurons(snn)[0]
    assert neuron.v_init == 0.5
    # weights are divided by the bound 0.75: W' = W / 0.75
    np.testing.assert_allclose(snn.layers[1].get_weights()[0], model.layers[1].get_weights()[0] / 0.75, rtol=1e-6)


def test_clipped_relu_is_reproduced_by_saturation():
    inputs = keras.Input((1,))
    hidden = keras.layers.Dense(1)(inputs)
    clipped = keras.layers.ReLU(max_value=1.0)(hidden)
    model = keras.Model(inputs, keras.layers.Dense(1)(clipped))
    model.layers[1].set_weights([np.array([[1.0]]), np.zeros(1)])
    model.layers[3].set_weights([np.ones((1, 1)), np.zeros(1)])
    x = np.array([[0.5], [2.0], [4.0]], "float32")
    snn = spkeras.convert(model, x, method="opi")
    rates = spkeras.simulate.record(snn, x, timesteps=64)
    np.testing.assert_allclose(rates["output"][:, 0], [0.5, 1.0, 1.0], atol=1 / 64)


def test_termapping_and_augmapping_use_their_neurons():
    model = tiny_cnn()
    ter = spkeras.convert(model, tiny_inputs(20), method="termapping")
    aug = spkeras.convert(model, tiny_inputs(20), method="augmapping")
    assert all(isinstance(layer, TernaryIntegrateAndFire) for layer in _neurons(ter))
    assert all(isinstance(layer, AugmentedIntegrateAndFire) for layer in _neurons(aug))


def test_augmapping_reports_events_and_coefficients():
    model = tiny_cnn()
    x = tiny_inputs(20)
    # A low percentile makes thresholds small, so several spikes per step are common.
    snn = spkeras.convert(model, x, method="augmapping", percentile=50)
    result = spkeras.evaluate(snn, x, labels_from(model, x), timesteps=16)
    assert result.events_per_step.sum() < result.spikes_per_step.sum()


def test_ecc_signed_bit_keeps_accuracy_and_integer_weights():
    model = tiny_cnn()
    x = tiny_inputs(40)
    y = labels_from(model, x)
    snn = spkeras.convert(model, x, method="ecc", signed_bit=8)
    for layer in snn.layers:
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            kernel = layer.get_weights()[0]
            np.testing.assert_array_equal(kernel, np.trunc(kernel))
            assert np.abs(kernel).max() <= 128
    assert spkeras.evaluate(snn, x, y, timesteps=128).accuracy_at(128) >= 0.9
    with pytest.raises(ValueError, match="signed_bit"):
        spkeras.convert(model, x, method="ecc", signed_bit=1)
