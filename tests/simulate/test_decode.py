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
