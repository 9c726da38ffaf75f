"""How the spike parametrisation is chosen for models that merge tensors (Add / Concatenate)."""

import logging

import keras
import numpy as np
import pytest

import spkeras


def _residual_model():
    inputs = keras.Input((6,))
    hidden = keras.layers.Dense(6, activation="relu", name="first")(inputs)
    branch = keras.layers.Dense(6, activation="relu", name="branch")(hidden)
    merged = keras.layers.Add(name="merge")([hidden, branch])
    return keras.Model(inputs, keras.layers.Dense(3, name="out")(merged), name="residual")


def _data():
    return np.random.default_rng(0).normal(size=(64, 6)).astype("float32")


def test_explicit_unit_spikes_with_merges_are_refused():
    with pytest.raises(ValueError, match=r"merge.*Received: spike_value='unit'.*spike_value='threshold'"):
        spkeras.convert(_residual_model(), _data(), method="robust", spike_value="unit")


def test_method_default_unit_is_switched_to_threshold_and_logged(caplog):
    with caplog.at_level(logging.INFO, logger="spkeras.conversion.pipeline"):
        snn = spkeras.convert(_residual_model(), _data(), method="robust")
    neurons = [layer for layer in snn.layers if isinstance(layer, spkeras.layers.IntegrateAndFire)]
    assert [layer.spike_value for layer in neurons] == ["threshold", "threshold"]
    assert any("spike_value='threshold'" in record.getMessage() for record in caplog.records)


def test_explicit_threshold_with_merges_is_kept():
    snn = spkeras.convert(_residual_model(), _data(), method="ecc", spike_value="threshold")
    assert {layer.spike_value for layer in snn.layers if isinstance(layer, spkeras.layers.IntegrateAndFire)} == {
        "threshold"
    }
