import keras
import numpy as np
import pytest
import tensorflow as tf

import spkeras
from spkeras.conversion import fold_model
from spkeras.simulate import Simulator, record
from tests.model_zoo import labels_from, tiny_cnn, tiny_inputs


@pytest.fixture
def converted():
    model = tiny_cnn()
    snn = spkeras.convert(model, tiny_inputs(64, seed=2), method="robust", percentile=100, spike_value="threshold")
    return model, snn


def test_rates_approach_ann_activations_as_timesteps_grow(converted):
    model, snn = converted
    x = tiny_inputs(16)
    folded = fold_model(model)
    logits = folded.predict(x, verbose=0)
    errors = {}
    for timesteps in (16, 64, 256):
        rates = record(snn, x, timesteps=timesteps)
        errors[timesteps] = np.abs(rates["output"] - logits).mean()
    # Error shrinks roughly as 1/T: each 4x more steps cuts it by at least 2.5x.
    assert errors[64] < errors[16] / 2.5
    assert errors[256] < errors[64] / 2.5
    assert errors[256] < 0.05 * np.abs(logits).mean()


def test_hidden_layer_rates_track_relu_activations(converted):
    model, snn = converted
    x = tiny_inputs(16)
    folded = fold_model(model)
    relu_layers = [layer for layer in folded.layers if isinstance(layer, keras.layers.ReLU)]
    probe = keras.Model(folded.inputs, [layer.output for layer in relu_layers])
    activations = probe.predict(x, verbose=0)
    rates = record(snn, x, timesteps=512)
    spiking_names = [name for name in rates if name != "output"]
    assert len(spiking_names) == len(relu_layers)
    for name, activation in zip(spiking_names, activations):
        # spike_value="threshold": rate x theta approximates the (clipped) activation; error O(theta / T).
        assert np.abs(rates[name] - activation).mean() < 0.02 * max(activation.max(), 1e-6) + 1e-4


def test_accuracy_at_every_step_and_spike_counts(converted):
    model, snn = converted
    x = tiny_inputs(40)
    y = labels_from(model, x)
    result = spkeras.evaluate(snn, x, y, timesteps=32, batch_size=16)
    assert result.accuracy.shape == (32,)
    assert result.spikes_per_step.shape == (32, 3)
    assert np.all((result.accuracy >= 0) & (result.accuracy <= 1))
    assert result.accuracy_at(32) >= 0.9  # agreement with the ANN's own predictions
    assert result.spikes_per_image() == pytest.approx(result.spikes_per_step.sum())
    assert set(result.spikes_per_layer()) == set(result.layer_names)
    assert result.spikes_per_image(1) <= result.spikes_per_image(32)
    assert "t" in result.table() and result.to_dict()["num_images"] == 40


def test_chunk_size_does_not_change_results(converted):
    model, snn = converted
    x = tiny_inputs(20)
    y = labels_from(model, x)
    reference = spkeras.evaluate(snn, x, y, timesteps=24, chunk_size=1)
    for chunk_size in (4, 24, 100):
        result = spkeras.evaluate(snn, x, y, timesteps=24, chunk_size=chunk_size)
        np.testing.assert_array_equal(result.accuracy, reference.accuracy)
        np.testing.assert_allclose(result.spikes_per_step, reference.spikes_per_step)


def test_one_hot_labels_equal_integer_labels(converted):
    model, snn = converted
    x = tiny_inputs(10)
    y = labels_from(model, x)
    one_hot = np.eye(4)[y]
    a = spkeras.evaluate(snn, x, y, timesteps=8)
    b = spkeras.evaluate(snn, x, one_hot, timesteps=8)
    np.testing.assert_array_equal(a.accuracy, b.accuracy)


def test_compiled_loop_is_traced_once_over_many_batches(converted):
    _, snn = converted
    simulator = Simulator(snn, timesteps=8)
    for size in (5, 7, 5, 3, 9):
        simulator.run_batch(tf.constant(tiny_inputs(size)), tf.zeros([size], tf.int64), tf.constant([0, 0], tf.int64))
    assert simulator.traces == 1


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"timesteps": 0}, ValueError),
        ({"timesteps": -3}, ValueError),
        ({"timesteps": 2.5}, ValueError),
        ({"batch_size": 0}, ValueError),
        ({"encoding": "morse"}, ValueError),
    ],
)
def test_bad_arguments_are_refused(converted, kwargs, error):
    _, snn = converted
    x = tiny_inputs(4)
    with pytest.raises(error, match="Received"):
        spkeras.evaluate(snn, x, np.zeros(4, int), **kwargs)


def test_bad_data_is_refused(converted):
    _, snn = converted
    x = tiny_inputs(4)
    with pytest.raises(ValueError, match="Received"):
        spkeras.evaluate(snn, x, np.zeros(5, int), timesteps=4)
    with pytest.raises(ValueError, match="Received"):
        spkeras.evaluate(snn, x, np.full(4, 9), timesteps=4)
    with pytest.raises(TypeError, match="Received"):
        spkeras.evaluate(snn, (x * 255).astype("uint8"), np.zeros(4, int), timesteps=4)
    bad = x.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        spkeras.evaluate(snn, bad, np.zeros(4, int), timesteps=4)


def test_an_ann_is_not_simulated():
    model = tiny_cnn()
    with pytest.raises(ValueError, match="IntegrateAndFire"):
        spkeras.evaluate(model, tiny_inputs(2), np.zeros(2, int), timesteps=4)


def test_datasets_are_refused_where_labels_are_separate(converted):
    model, snn = converted
    x = tiny_inputs(30)
    dataset = tf.data.Dataset.from_tensor_slices(x).batch(10)
    with pytest.raises(TypeError, match="tf.data.Dataset"):
        spkeras.evaluate(snn, dataset, np.zeros(30, int), timesteps=4)
    with pytest.raises(TypeError, match="tf.data.Dataset"):
        spkeras.estimate_closed_form(snn, dataset, np.zeros(30, int), timesteps=4)


def test_repeated_evaluate_reuses_the_compiled_loop(converted):
    from spkeras.simulate import get_simulator

    model, snn = converted
    x = tiny_inputs(6)
    y = labels_from(model, x)
    for _ in range(3):
        spkeras.evaluate(snn, x, y, timesteps=8)
    simulator = get_simulator(snn, 8)
    assert simulator.traces == 1
    assert get_simulator(snn, 16) is not simulator
