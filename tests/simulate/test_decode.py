"""spkeras.predict: the ANN's predict estimated from the spikes, for softmax, sigmoid and linear heads."""

import keras
import numpy as np
import pytest

import spkeras
from spkeras.layers import Readout


def _network(head_units: int, activation: str | None, seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((6, 6, 1)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(head_units, activation=activation),
        ]
    )


def _data(count=64, seed=1):
    return np.random.default_rng(seed).uniform(0, 1, (count, 6, 6, 1)).astype("float32")


@pytest.mark.parametrize(
    "units, activation, readout", [(3, "softmax", "softmax"), (1, "sigmoid", "sigmoid"), (2, None, None)]
)
def test_predict_decodes_the_head_of_the_source_model(units, activation, readout, tmp_path):
    model, x = _network(units, activation), _data()
    snn = spkeras.convert(model, x, timesteps=256, method="robust", percentile=100)
    readouts = [layer.activation for layer in snn.layers if isinstance(layer, Readout)]
    assert readouts == ([readout] if readout else [])
    ann = model.predict(x, verbose=0)
    estimate = spkeras.predict(snn, x)  # T defaults to the 256 the network was converted for
    assert estimate.shape == ann.shape
    np.testing.assert_allclose(estimate, ann, atol=0.05 * max(1.0, float(np.abs(ann).max())))
    steps = spkeras.predict(snn, x[:5], timesteps=8, every_step=True)
    assert steps.shape == (8, 5, units)
    loaded = spkeras.load_model(spkeras.save_model(snn, tmp_path / "snn.keras"))
    np.testing.assert_array_equal(spkeras.predict(loaded, x[:5], timesteps=8), spkeras.predict(snn, x[:5], timesteps=8))
    np.testing.assert_allclose(spkeras.predict(snn, x[:5], timesteps=8), steps[-1], rtol=1e-6)


def test_the_estimate_improves_with_time_on_a_regression_head():
    model, x = _network(2, None, seed=3), _data(128)
    snn = spkeras.convert(model, x, timesteps=128)
    ann = model.predict(x, verbose=0)
    steps = spkeras.predict(snn, x, timesteps=128, every_step=True)
    errors = [float(np.mean((steps[t - 1] - ann) ** 2)) for t in (4, 16, 128)]
    assert errors[0] > errors[1] > errors[2], errors


def test_bad_arguments_are_refused_by_name():
    model, x = _network(3, "softmax"), _data(8)
    snn = spkeras.convert(model, x, timesteps=8)
    with pytest.raises(ValueError, match="batch_size"):
        spkeras.predict(snn, x, batch_size=0)
    with pytest.raises(ValueError, match="timesteps"):
        spkeras.predict(snn, x, timesteps=0)
    with pytest.raises(ValueError, match="activation"):
        Readout("tanh")


def _two_heads(seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((6, 6, 1))
    trunk = keras.layers.Flatten()(keras.layers.Conv2D(4, 3, activation="relu")(inputs))
    hidden = keras.layers.Dense(8, activation="relu")(trunk)
    label = keras.layers.Dense(3, activation="softmax", name="label")(hidden)
    value = keras.layers.Dense(1, name="value")(hidden)
    return keras.Model(inputs, [label, value])


def test_a_two_head_model_converts_and_predict_returns_both_heads(tmp_path):
    model, x = _two_heads(), _data(96)
    snn = spkeras.convert(model, x, timesteps=256, method="robust", percentile=100)
    assert len(snn.outputs) == 1  # the heads are joined; the readout splits them again
    label, value = spkeras.predict(snn, x)
    ann_label, ann_value = model.predict(x, verbose=0)
    assert label.shape == ann_label.shape and value.shape == ann_value.shape
    np.testing.assert_allclose(label, ann_label, atol=0.05)
    np.testing.assert_allclose(value, ann_value, atol=0.05 * max(1.0, float(np.abs(ann_value).max())))
    steps = spkeras.predict(snn, x[:4], timesteps=8, every_step=True)
    assert [part.shape for part in steps] == [(8, 4, 3), (8, 4, 1)]
    loaded = spkeras.load_model(spkeras.save_model(snn, tmp_path / "heads.keras"))
    np.testing.assert_array_equal(spkeras.predict(loaded, x[:4], timesteps=8)[1], spkeras.predict(snn, x[:4], 8)[1])


def test_multi_output_heads_must_be_flat():
    inputs = keras.Input((6, 6, 1))
    maps = keras.layers.Conv2D(2, 3, name="maps")(inputs)
    flat = keras.layers.Dense(2, name="flat")(keras.layers.Flatten()(maps))
    with pytest.raises(ValueError, match="'maps'.*\\(batch, units\\)"):
        spkeras.convert(keras.Model(inputs, [maps, flat]), _data(8), timesteps=4)


def test_the_readout_survives_a_nir_round_trip(tmp_path):
    pytest.importorskip("nir")
    model, x = _network(3, "softmax"), _data(16)
    snn = spkeras.convert(model, x, timesteps=8, max_pooling="average")
    imported = spkeras.import_nir(spkeras.export_nir(snn, tmp_path / "net.nir"))
    assert [layer.activation for layer in imported.layers if isinstance(layer, Readout)] == ["softmax"]
    np.testing.assert_allclose(spkeras.predict(imported, x, timesteps=8), spkeras.predict(snn, x), atol=1e-6)


def test_score_reports_a_metric_per_head_at_every_step_and_evaluate_points_to_it():
    model, x = _two_heads(seed=2), _data(64)
    snn = spkeras.convert(model, x, timesteps=64)
    label, value = model.predict(x, verbose=0)
    targets = [label.argmax(-1), value]
    scores = spkeras.simulate.score(
        snn, x, targets, [keras.metrics.SparseCategoricalAccuracy(), "mse"], timesteps=64, ann=model
    )
    accuracy, error = scores["snn"]
    assert accuracy.shape == error.shape == (64,)
    assert scores["ann"] == [1.0, 0.0]
    assert accuracy[-1] > accuracy[0] and error[-1] < error[0]
    with pytest.raises(ValueError, match="2 outputs.*spkeras.simulate.score"):
        spkeras.evaluate(snn, x, targets[0])
    with pytest.raises(ValueError, match="one target array per output"):
        spkeras.simulate.score(snn, x, targets[0], "mse")
