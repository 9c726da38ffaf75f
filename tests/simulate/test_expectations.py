"""Simulations default to the T the model was converted for, and warn about inputs scaled unlike calibration."""

import warnings

import numpy as np
import pytest

import spkeras
from spkeras.simulate import get_simulator, record, spike_trains
from spkeras.simulate.expectations import DEFAULT_TIMESTEPS, check_input_range, converted_timesteps
from tests.model_zoo import labels_from, tiny_cnn, tiny_inputs


@pytest.fixture(scope="module")
def converted_for_16():
    model = tiny_cnn()
    return model, spkeras.convert(model, tiny_inputs(32, seed=2), method="robust", timesteps=16)


def test_evaluate_on_a_model_converted_for_16_steps_simulates_16(converted_for_16):
    model, snn = converted_for_16
    x = tiny_inputs(8)
    y = labels_from(model, x)
    result = spkeras.evaluate(snn, x, y)
    assert result.timesteps == 16
    assert result.accuracy.shape == (16,)
    explicit = spkeras.evaluate(snn, x, y, timesteps=16)
    np.testing.assert_array_equal(result.accuracy, explicit.accuracy)
    np.testing.assert_array_equal(result.spikes_per_step, explicit.spikes_per_step)


def test_an_explicit_timesteps_still_wins(converted_for_16):
    model, snn = converted_for_16
    x = tiny_inputs(4)
    assert spkeras.evaluate(snn, x, labels_from(model, x), timesteps=8).timesteps == 8
    assert next(iter(spike_trains(snn, x[:1], timesteps=4).values())).shape[0] == 4


def test_record_and_spike_trains_default_to_the_converted_timesteps(converted_for_16):
    _, snn = converted_for_16
    x = tiny_inputs(2)
    assert {train.shape[0] for train in spike_trains(snn, x).values()} == {16}
    np.testing.assert_array_equal(record(snn, x)["output"], record(snn, x, timesteps=16)["output"])
    assert get_simulator(snn, 16).traces >= 1


def test_models_without_the_information_use_the_documented_default():
    assert converted_timesteps(tiny_cnn()) == DEFAULT_TIMESTEPS == 64
    assert converted_timesteps("not a model") == DEFAULT_TIMESTEPS


def test_layers_converted_for_different_timesteps_need_an_explicit_value(converted_for_16):
    _, snn = converted_for_16
    import keras

    clone = keras.models.clone_model(snn)
    clone.set_weights(snn.get_weights())
    neurons = [layer for layer in clone.layers if isinstance(layer, spkeras.layers.IntegrateAndFire)]
    neurons[0].timesteps = 8
    with pytest.raises(ValueError, match="Pass timesteps="):
        spkeras.evaluate(clone, tiny_inputs(2), np.zeros(2, int))


def test_float_images_left_in_0_255_are_warned(converted_for_16):
    model, snn = converted_for_16
    x = tiny_inputs(4)
    unscaled = np.round(x * 255).astype("float32")
    with pytest.warns(UserWarning, match=r"Received: x with values in \[\d+, 25\d\].*x / 255"):
        spkeras.evaluate(snn, unscaled, labels_from(model, x), timesteps=4)
    with pytest.warns(UserWarning, match="x / 255"):
        record(snn, unscaled, timesteps=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        spkeras.evaluate(snn, x, labels_from(model, x), timesteps=4)  # scaled inputs: no warning


def test_mean_subtracted_0_255_inputs_are_not_warned_without_a_stored_range():
    caffe_style = tiny_inputs(4) * 255 - 123.68
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_input_range(tiny_cnn(), caffe_style)


def test_a_stored_calibration_range_is_the_reference():
    model = tiny_cnn()
    model.calibration_range = (-1.0, 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_input_range(model, np.full((2, 3), 8.9, "float32"))  # within 4 widths of [-1, 1]
    with pytest.warns(UserWarning, match=r"calibration data's \[-1, 1\]"):
        check_input_range(model, np.full((2, 3), 9.5, "float32"), argument="x_test")


def test_event_counts_are_not_taken_for_unscaled_images():
    counts = np.random.default_rng(0).integers(0, 5, (2, 4, 3)).astype("float32")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_input_range(tiny_cnn(), counts, encoding="events")
    with pytest.warns(UserWarning, match="x / 255"):
        check_input_range(tiny_cnn(), counts * 50)


def test_convert_stores_the_calibration_range_on_the_neurons_and_it_survives_keras_files(converted_for_16, tmp_path):
    model, snn = converted_for_16
    ranges = {layer.calibration_range for layer in snn.layers if isinstance(layer, spkeras.layers.IntegrateAndFire)}
    assert len(ranges) == 1 and ranges.pop()[1] <= 1.0
    loaded = spkeras.load_model(spkeras.save_model(snn, tmp_path / "snn.keras"))
    x = tiny_inputs(4)
    with pytest.warns(UserWarning, match="calibration data's"):  # the stored range, not the 0–255 fallback
        spkeras.evaluate(loaded, x * 40, labels_from(model, x), timesteps=4)
