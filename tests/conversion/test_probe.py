"""spkeras.conversion.probe: repairing silent scales, and the partial SNNs a method measures during calibration."""

import logging

import keras
import numpy as np
import pytest

from spkeras.calibration import max_input_current
from spkeras.conversion.batchnorm import fold_batchnorm
from spkeras.conversion.lower import lower_model
from spkeras.conversion.probe import Probe, repair_scale
from spkeras.layers import IntegrateAndFire, NeuronSettings
from tests.keras_session import _clean_keras_session  # noqa: F401  (no gc.collect per test)

LOGGER = "spkeras.conversion.probe"

# --- repair_scale -------------------------------------------------------------------------------------------


def test_positive_scales_are_returned_unchanged(caplog):
    scale = np.array([0.5, 2.0])
    with caplog.at_level(logging.INFO, logger=LOGGER):
        assert repair_scale(scale, "relu", layer_maximum=3.0) is scale
        assert repair_scale(np.float64(4.0), "relu", layer_maximum=3.0) == 4.0
    assert caplog.records == []


@pytest.mark.parametrize("scale", [np.float64(0.0), np.zeros(3), np.array([0.0, -1.0, 0.0])])
def test_a_site_that_never_fired_gets_the_layer_maximum_with_a_warning(caplog, scale):
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        repaired = repair_scale(scale, "conv_relu", layer_maximum=3.0)
    assert repaired.shape == scale.shape
    np.testing.assert_array_equal(repaired, np.full(scale.shape, 3.0))
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert "'conv_relu' never activated" in record.getMessage() and "set from 3" in record.getMessage()


def test_a_layer_that_never_fired_at_all_falls_back_to_one(caplog):
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        repaired = repair_scale(np.zeros(2), "dead", layer_maximum=0.0)
    np.testing.assert_array_equal(repaired, [1.0, 1.0])
    assert "set from 1" in caplog.records[0].getMessage()


def test_silent_channels_get_the_layer_maximum_with_an_info_line(caplog):
    with caplog.at_level(logging.INFO, logger=LOGGER):
        repaired = repair_scale(np.array([2.0, 0.0, 1.0, -0.5]), "conv_relu", layer_maximum=5.0)
    np.testing.assert_array_equal(repaired, [2.0, 5.0, 1.0, 5.0])
    (record,) = caplog.records
    assert record.levelno == logging.INFO
    assert record.getMessage() == "Neuron site 'conv_relu': 2 silent channels get the layer's scale."


def test_nan_scales_are_repaired():
    np.testing.assert_array_equal(repair_scale(np.array([np.nan, 2.0]), "s", layer_maximum=4.0), [4.0, 2.0])
    np.testing.assert_array_equal(repair_scale(np.float64(np.nan), "s", layer_maximum=4.0), 4.0)


def test_infinite_channel_scales_are_repaired():
    repaired = repair_scale(np.array([np.inf, 2.0]), "s", layer_maximum=4.0)
    assert np.all(np.isfinite(repaired))


# --- Probe --------------------------------------------------------------------------------------------------


def _mlp():
    """Dense(4, relu) → Dense(3, relu) → Dense(2): sites at IR nodes 2 and 4."""
    keras.utils.set_random_seed(7)
    inputs = keras.Input((5,))
    tensor = keras.layers.Dense(4, activation="relu", name="d1")(inputs)
    tensor = keras.layers.Dense(3, activation="relu", name="d2")(tensor)
    model = keras.Model(inputs, keras.layers.Dense(2, name="out")(tensor), name="mlp")
    rng = np.random.default_rng(0)
    for layer in model.layers[1:]:
        kernel, bias = layer.get_weights()
        layer.set_weights([rng.normal(0, 1, kernel.shape), rng.uniform(0.0, 0.3, bias.shape)])
    return model


@pytest.fixture
def probe():
    nodes = fold_batchnorm(lower_model(_mlp()))
    assert [node.kind for node in nodes] == ["input", "linear", "neuron", "linear", "neuron", "linear"]
    data = np.random.default_rng(1).uniform(0, 1, (12, 5)).astype("float32")
    settings = NeuronSettings(IntegrateAndFire, reset="soft", v_init=0.5, spike_value="unit", timesteps=16)
    return Probe(nodes, [2, 4], [2.5, 0.0], settings, data, batch_size=5, name="mlp")


def test_site_scales_fill_missing_sites_with_the_ann_maximum_and_repair(probe, caplog):
    scales = probe.site_scales([1.5])
    assert sorted(scales) == [2, 4]
    assert float(scales[2]) == 1.5
    # Site 4 has no λ yet: its ANN maximum, 0 here, is repaired to 1 with a warning naming the site.
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert float(probe.site_scales([1.5])[4]) == 1.0
    assert "'d2' never activated" in caplog.text
    per_channel = probe.site_scales([np.array([1.0, 0.0, 2.0, 3.0]), 4.0])
    np.testing.assert_array_equal(per_channel[2], [1.0, 2.5, 2.0, 3.0])
    assert float(per_channel[4]) == 4.0


def test_build_uses_the_probe_settings_and_names(probe):
    snn, layers = probe.build([2.0, 4.0])
    assert snn.name == "mlp_snn"
    neurons = [layer for layer in snn.layers if isinstance(layer, IntegrateAndFire)]
    assert [layer.name for layer in neurons] == ["d1_spiking", "d2_spiking"]
    assert all((n.v_init, n.spike_value, n.timesteps) == (0.5, "unit", 16) for n in neurons)
    assert [float(n.threshold.numpy()) for n in neurons] == [1.0, 1.0]
    # λ of site 2 divides d1's weights.
    np.testing.assert_allclose(layers[1].get_weights()[0], probe.nodes[1].kernel / 2.0, rtol=1e-6)
    hard = probe.build([2.0, 4.0], settings=probe.settings.replace(reset="hard"), name="other")[0]
    assert hard.name == "other"
    assert {layer.reset for layer in hard.layers if isinstance(layer, IntegrateAndFire)} == {"hard"}


@pytest.mark.parametrize("site_position, last", [(0, "d1"), (1, "d2")])
def test_partial_ends_at_the_input_current_of_the_chosen_site(probe, site_position, last):
    partial = probe.partial([2.0, 4.0], site_position)
    assert partial.layers[-1].name == last  # the linear op feeding the site, not the site itself
    assert tuple(partial.outputs[0].shape) == (None, [4, 3][site_position])
    neurons = [layer for layer in partial.layers if isinstance(layer, IntegrateAndFire)]
    assert len(neurons) == site_position
    # Spikes carry θ and no weight transform is applied, so every tensor keeps the ANN's units: θ = λ.
    for neuron in neurons:
        assert neuron.spike_value == "threshold"
        assert float(neuron.threshold.numpy()) == 2.0
    if site_position == 0:
        x = probe.data
        kernel, bias = probe.nodes[1].kernel, probe.nodes[1].bias
        np.testing.assert_allclose(partial.predict(x, verbose=0), x @ kernel + bias, rtol=1e-5, atol=1e-6)


def test_partial_ignores_scales_at_and_after_the_site(probe):
    a = probe.partial([2.0, 4.0], 1)
    b = probe.partial([2.0, 99.0], 1)
    for x, y in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(x, y)


def test_probe_max_input_current_equals_the_calibration_function(probe):
    for site_position in (0, 1):
        measured = probe.max_input_current([2.0, 4.0], site_position, timesteps=8)
        partial = probe.partial([2.0, 4.0], site_position)
        expected = max_input_current(partial, probe.data, timesteps=8, batch_size=5)
        np.testing.assert_array_equal(measured, expected)
    # At the first site the current is constant in time: the ANN's pre-activation maximum per channel.
    x, kernel, bias = probe.data, probe.nodes[1].kernel, probe.nodes[1].bias
    np.testing.assert_allclose(probe.max_input_current([], 0, timesteps=3), (x @ kernel + bias).max(0), rtol=1e-5)


def test_probe_max_input_current_on_fewer_samples(probe):
    probe.data = probe.data.copy()
    probe.data[:4] *= 0.1  # the first samples drive weaker currents than the rest
    for site_position in (0, 1):
        measured = probe.max_input_current([2.0], site_position, timesteps=8, samples=4)
        expected = max_input_current(probe.partial([2.0], site_position), probe.data[:4], timesteps=8)
        np.testing.assert_array_equal(measured, expected)
    everything = probe.max_input_current([2.0], 0, timesteps=8)
    assert not np.array_equal(probe.max_input_current([2.0], 0, timesteps=8, samples=4), everything)
