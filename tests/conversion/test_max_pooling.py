"""``max_pooling="spiking"``: gated spiking max pooling in converted networks."""

import warnings

import keras
import numpy as np
import pytest

import spkeras
from spkeras.conversion import fold_model
from spkeras.layers import SpikingMaxPooling1D, SpikingMaxPooling2D


def _max_pool_net(seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((12, 12, 1)),
            keras.layers.Conv2D(4, 3, name="conv"),
            keras.layers.BatchNormalization(name="norm"),
            keras.layers.ReLU(name="relu"),
            keras.layers.MaxPooling2D(2, name="max_pool"),
            keras.layers.Conv2D(6, 3, activation="relu", name="conv_2"),
            keras.layers.MaxPooling2D(2, strides=1, padding="same", name="max_pool_2"),
            keras.layers.Flatten(),
            keras.layers.Dense(3, name="logits"),
        ]
    )


@pytest.fixture
def data():
    return np.random.default_rng(0).uniform(0, 1, (48, 12, 12, 1)).astype("float32")


def _convert(model, x, policy, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the "average" policy's notice
        return spkeras.convert(model, x, timesteps=64, max_pooling=policy, **options)


def test_spiking_policy_keeps_max_pooling_without_a_warning(data):
    model = _max_pool_net()
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # the "average" policy warns; "spiking" must not
        snn = spkeras.convert(model, data, timesteps=64, max_pooling="spiking")
        folded = fold_model(model, max_pooling="spiking")
    pools = [layer for layer in snn.layers if isinstance(layer, SpikingMaxPooling2D)]
    assert [layer.name for layer in pools] == ["max_pool", "max_pool_2"]
    assert (tuple(pools[1].pool_size), tuple(pools[1].strides), pools[1].padding) == ((2, 2), (1, 1), "same")
    # The folded ANN (the statistics' reference) keeps ordinary max pooling and computes the source's logits.
    assert sum(type(layer) is keras.layers.MaxPooling2D for layer in folded.layers) == 2
    np.testing.assert_allclose(folded.predict(data, verbose=0), model.predict(data, verbose=0), atol=1e-4)


def test_spiking_max_pooling_tracks_the_ann_far_better_than_average_pooling(data):
    model = _max_pool_net()
    logits = model.predict(data, verbose=0)
    errors = {}
    for policy in ("spiking", "average"):
        output = spkeras.simulate.record(_convert(model, data, policy), data, timesteps=256)["output"]
        errors[policy] = float(np.abs(output - logits).mean() / np.abs(logits).mean())
    assert errors["spiking"] < 0.05, errors
    assert errors["spiking"] < errors["average"] / 3, errors


def test_simulation_is_the_same_for_any_chunk_size_and_after_saving(data, tmp_path):
    snn = _convert(_max_pool_net(), data, "spiking")
    labels = np.arange(len(data)) % 3
    reference = spkeras.evaluate(snn, data, labels, timesteps=16)
    chunked = spkeras.evaluate(snn, data, labels, timesteps=16, chunk_size=4)
    np.testing.assert_array_equal(chunked.spikes_per_step, reference.spikes_per_step)
    np.testing.assert_array_equal(chunked.accuracy, reference.accuracy)
    path = tmp_path / "snn.keras"
    spkeras.save_model(snn, path)
    loaded = keras.saving.load_model(path)
    assert sum(isinstance(layer, SpikingMaxPooling2D) for layer in loaded.layers) == 2
    again = spkeras.evaluate(loaded, data, labels, timesteps=16)
    np.testing.assert_array_equal(again.spikes_per_step, reference.spikes_per_step)


def test_spikes_are_counted_for_neurons_only_and_pass_binary(data):
    snn = _convert(_max_pool_net(), data, "spiking")
    result = spkeras.evaluate(snn, data, np.zeros(len(data), "int64"), timesteps=16, encoding="poisson", seed=3)
    assert result.layer_names == [layer.name for layer in snn.layers if getattr(layer, "spiking_neuron", False)]
    assert np.isfinite(result.accuracy).all()


def test_max_pooling_1d_spiking_policy():
    keras.utils.set_random_seed(1)
    model = keras.Sequential(
        [
            keras.Input((16, 2)),
            keras.layers.Conv1D(4, 3, activation="relu"),
            keras.layers.MaxPooling1D(2, name="pool1d"),
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(3),
        ]
    )
    x = np.random.default_rng(1).uniform(0, 1, (32, 16, 2)).astype("float32")
    snn = spkeras.convert(model, x, timesteps=64, max_pooling="spiking")
    assert isinstance(snn.get_layer("pool1d"), SpikingMaxPooling1D)
    output = spkeras.simulate.record(snn, x, timesteps=256)["output"]
    logits = model.predict(x, verbose=0)
    assert np.abs(output - logits).mean() < 0.05 * np.abs(logits).mean()


def test_closed_form_of_a_spiking_max_pool_network_is_max_pooling_of_rates(data):
    snn = _convert(_max_pool_net(), data, "spiking")
    estimate = snn.predict(data[:8], verbose=0)  # the Keras pass: closed-form neurons, plain max pooling
    simulated = spkeras.simulate.record(snn, data[:8], timesteps=64)["output"]
    np.testing.assert_allclose(estimate, simulated, atol=0.05 * np.abs(simulated).max())


def test_nir_export_writes_spiking_max_pooling_and_refuses_threshold_spikes_by_name(data):
    pytest.importorskip("nir")
    graph = spkeras.export_nir(_convert(_max_pool_net(), data, "spiking"))  # exact: tests/nir/test_max_pooling.py
    assert {"max_pool.gate", "max_pool_2.gate"} <= set(graph.nodes)
    snn = _convert(_max_pool_net(), data, "spiking", spike_value="threshold")
    with pytest.raises(ValueError, match="max_pool.*max_pooling='average'"):
        spkeras.export_nir(snn)
