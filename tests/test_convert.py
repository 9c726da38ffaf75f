import keras
import numpy as np
import pytest

import spkeras
from spkeras.layers import IntegrateAndFire
from tests.model_zoo import labels_from, tiny_cnn, tiny_inputs


@pytest.mark.parametrize("functional", [True, False])
def test_converts_sequential_and_functional(functional):
    model = tiny_cnn(functional=functional)
    snn = spkeras.convert(model, tiny_inputs(32), method="ecc", timesteps=32)
    kinds = [type(layer).__name__ for layer in snn.layers]
    assert kinds.count("IntegrateAndFire") == 3
    assert "BatchNormalization" not in kinds and "ReLU" not in kinds
    x = tiny_inputs(30)
    result = spkeras.evaluate(snn, x, labels_from(model, x), timesteps=64)
    assert result.accuracy_at(64) >= 0.9


def test_source_model_is_not_modified():
    model = tiny_cnn()
    before = [w.copy() for w in model.get_weights()]
    config = model.get_config()
    spkeras.convert(model, tiny_inputs(16), method="ecc")
    after = model.get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(before, after))
    assert model.get_config() == config


def test_ecc_parameters():
    model = tiny_cnn()
    snn = spkeras.convert(model, tiny_inputs(32), method="ecc", amp_factor=50)
    neurons = [layer for layer in snn.layers if isinstance(layer, IntegrateAndFire)]
    for layer in neurons:
        assert layer.v_init == 0.5 and layer.reset == "soft" and layer.spike_value == "unit"
        np.testing.assert_allclose(keras.ops.convert_to_numpy(layer.threshold), 50.0)


def test_method_defaults_and_overrides():
    model = tiny_cnn()
    x = tiny_inputs(32)
    hard = [layer for layer in spkeras.convert(model, x, method="max").layers if isinstance(layer, IntegrateAndFire)]
    assert {layer.reset for layer in hard} == {"hard"}
    soft = spkeras.convert(model, x, method="max", reset="soft", v_init=0.25, timesteps=8)
    neurons = [layer for layer in soft.layers if isinstance(layer, IntegrateAndFire)]
    assert {(n.reset, n.v_init, n.timesteps) for n in neurons} == {("soft", 0.25, 8)}


def test_unit_and_threshold_spike_values_are_equivalent():
    model = tiny_cnn()
    x = tiny_inputs(20)
    y = labels_from(model, x)
    unit = spkeras.convert(model, x, method="robust", spike_value="unit")
    threshold = spkeras.convert(model, x, method="robust", spike_value="threshold")
    a = spkeras.evaluate(unit, x, y, timesteps=32)
    b = spkeras.evaluate(threshold, x, y, timesteps=32)
    # Same dynamics up to float rounding: spike counts agree to a tiny fraction.
    np.testing.assert_allclose(a.spikes_per_step.sum(), b.spikes_per_step.sum(), rtol=1e-3)
    assert abs(a.accuracy_at(32) - b.accuracy_at(32)) <= 0.05


def test_keras_save_load_round_trip(tmp_path):
    model = tiny_cnn()
    x = tiny_inputs(12)
    y = labels_from(model, x)
    snn = spkeras.convert(model, x, method="robust")
    path = spkeras.save_model(snn, tmp_path / "snn.keras")
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), snn.predict(x, verbose=0))
    a = spkeras.evaluate(snn, x, y, timesteps=16)
    b = spkeras.evaluate(loaded, x, y, timesteps=16)
    np.testing.assert_array_equal(a.accuracy, b.accuracy)
    np.testing.assert_array_equal(a.spikes_per_step, b.spikes_per_step)


def test_convert_accepts_a_path(tmp_path):
    path = tmp_path / "cnn.h5"
    model = tiny_cnn()
    model.save(path)
    x = tiny_inputs(8)
    from_path = spkeras.convert(str(path), x)
    # The file is loaded and converted exactly as the model object it was saved from.
    from_model = spkeras.convert(model, x)
    assert [type(layer).__name__ for layer in from_path.layers] == [type(layer).__name__ for layer in from_model.layers]
    assert sum(isinstance(layer, IntegrateAndFire) for layer in from_path.layers) == 3
    for a, b in zip(from_path.get_weights(), from_model.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(
    "data, error, match",
    [
        (np.zeros((0, 10, 10, 2), "float32"), ValueError, "empty"),
        (np.zeros((4, 10, 10), "float32"), ValueError, "sample shape"),
        (np.zeros((4, 10, 10, 3), "float32"), ValueError, "sample shape"),
        (np.zeros((4, 10, 10, 2), "uint8"), TypeError, "dtype"),
        (np.full((4, 10, 10, 2), np.inf, "float32"), ValueError, "NaN or infinite"),
        ("not data", TypeError, "NumPy array"),
    ],
)
def test_bad_calibration_data(data, error, match, tmp_path):
    model = tiny_cnn()
    with pytest.raises(error, match=match):
        spkeras.convert(model, data)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {"timesteps": 0},
        {"timesteps": -1},
        {"method": "nope"},
        {"reset": "sideways"},
        {"v_init": 1.5},
        {"max_pooling": "median"},
        {"batch_size": 0},
        {"method": "robust", "percentile": 0},
        {"method": "ecc", "amp_factor": -1},
    ],
)
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError, match="Received"):
        spkeras.convert(tiny_cnn(), tiny_inputs(4), **kwargs)


def test_unknown_method_option():
    with pytest.raises(TypeError, match="unexpected option"):
        spkeras.convert(tiny_cnn(), tiny_inputs(4), method="max", percentile=99)


def test_silent_layer_gets_a_usable_threshold(caplog):
    inputs = keras.Input((3,))
    hidden = keras.layers.Dense(2, activation="relu")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2)(hidden))
    model.layers[1].set_weights([-np.ones((3, 2)), -np.ones(2)])  # never active on positive inputs
    snn = spkeras.convert(model, np.ones((4, 3), "float32"), method="max")
    neuron = [layer for layer in snn.layers if isinstance(layer, IntegrateAndFire)][0]
    assert float(keras.ops.convert_to_numpy(neuron.threshold)) > 0
    assert "never activated" in caplog.text


@pytest.mark.parametrize("method", ["robust", "channelwise"])
def test_calibration_streams_from_a_dataset(method):
    import tensorflow as tf

    model = tiny_cnn()
    x = tiny_inputs(40)
    from_array = spkeras.convert(model, x, method=method, batch_size=10)
    dataset = tf.data.Dataset.from_tensor_slices((x, np.zeros(40))).batch(10)
    from_dataset = spkeras.convert(model, dataset, method=method)
    for a, b in zip(from_array.layers, from_dataset.layers):
        if isinstance(a, IntegrateAndFire):
            np.testing.assert_allclose(
                keras.ops.convert_to_numpy(a.threshold), keras.ops.convert_to_numpy(b.threshold), rtol=1e-6
            )


def test_dataset_with_wrong_element_shape_is_refused():
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices(np.zeros((8, 5, 5, 2), "float32")).batch(4)
    with pytest.raises(ValueError, match="element_spec"):
        spkeras.convert(tiny_cnn(), dataset)
