"""``encoding="events"``: event sequences fed one time bin per step."""

import numpy as np
import pytest

import spkeras
from tests.model_zoo import labels_from, tiny_cnn, tiny_inputs


@pytest.fixture
def network():
    model = tiny_cnn()
    x = tiny_inputs(24)
    return {"snn": spkeras.convert(model, x, timesteps=16), "x": x, "y": labels_from(model, x)}


def test_constant_event_sequences_equal_the_analog_input(network):
    snn, x, y = network["snn"], network["x"], network["y"]
    events = np.repeat(x[:, None], 16, axis=1)
    analog = spkeras.evaluate(snn, x, y, timesteps=16)
    binned = spkeras.evaluate(snn, events, y, timesteps=16, encoding="events", batch_size=5, chunk_size=4)
    np.testing.assert_allclose(binned.spikes_per_step, analog.spikes_per_step, atol=1e-6)
    np.testing.assert_array_equal(binned.accuracy, analog.accuracy)
    assert binned.encoding == "events"


def test_step_t_reads_bin_t(network):
    snn, x, y = network["snn"], network["x"][:4], network["y"][:4]
    silent = np.zeros((4, 12) + x.shape[1:], "float32")
    events = silent.copy()
    events[:, 5] = x * 8  # input in bin 5 only (step 6)
    quiet = spkeras.evaluate(snn, silent, y, timesteps=12, encoding="events").spikes_per_step
    driven = spkeras.evaluate(snn, events, y, timesteps=12, encoding="events").spikes_per_step
    np.testing.assert_array_equal(driven[:5], quiet[:5])  # nothing of bin 5 is seen before step 6
    assert driven[5, 0] != quiet[5, 0]  # the first spiking layer reacts at step 6


def test_sequences_longer_than_timesteps_use_their_first_bins(network):
    snn, x, y = network["snn"], network["x"], network["y"]
    rng = np.random.default_rng(0)
    events = (rng.uniform(size=(len(x), 20) + x.shape[1:]) < x[:, None]).astype("float32")
    short = spkeras.evaluate(snn, events[:, :8], y, timesteps=8, encoding="events")
    long = spkeras.evaluate(snn, events, y, timesteps=8, encoding="events")
    np.testing.assert_array_equal(short.spikes_per_step, long.spikes_per_step)


def test_bad_event_inputs_are_refused_with_the_fix(network):
    snn, x, y = network["snn"], network["x"], network["y"]
    with pytest.raises(ValueError, match=r"event sequences of shape \(N, bins\).*x.shape=\(24, 10, 10, 2\)"):
        spkeras.evaluate(snn, x, y, timesteps=8, encoding="events")
    with pytest.raises(ValueError, match="at least timesteps=16 bins.*Pass timesteps <= 4"):
        spkeras.evaluate(snn, np.repeat(x[:, None], 4, axis=1), y, timesteps=16, encoding="events")
    with pytest.raises(ValueError, match="sample shape"):
        spkeras.evaluate(snn, np.zeros((3, 8, 10, 10, 5), "float32"), y[:3], timesteps=8, encoding="events")
