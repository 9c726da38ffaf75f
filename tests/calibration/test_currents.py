"""spkeras.calibration.max_input_current: the largest per-step current of a (partial) SNN, checked by hand."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from spkeras.calibration import max_input_current
from spkeras.layers import IntegrateAndFire
from tests.keras_session import _clean_keras_session  # noqa: F401  (no gc.collect per test)


def _partial_snn(spike_value="unit"):
    """Input(2) → Dense(identity) → IF(θ=1, soft reset, V0=0) → Dense: ends at the input current of a next site."""
    inputs = keras.Input((2,))
    first = keras.layers.Dense(2, name="first")
    neuron = IntegrateAndFire(threshold=1.0, spike_value=spike_value, name="neuron")
    second = keras.layers.Dense(2, name="second")
    model = keras.Model(inputs, second(neuron(first(inputs))))
    first.set_weights([np.eye(2, dtype="float32"), np.zeros(2, "float32")])
    second.set_weights([np.array([[2.0, -1.0], [0.5, 3.0]], "float32"), np.array([0.1, -0.2], "float32")])
    return model


# Sample A drives the neuron with (0.3, 0.7): channel 0 first fires at step 4, channel 1 at steps 2, 3, 5, 6, ...
# Sample B drives it with (1.0, 0.0): channel 0 fires at every step, channel 1 never.
# The output current per step is (2·s0 + 0.5·s1 + 0.1, −s0 + 3·s1 − 0.2).
X = np.array([[0.3, 0.7], [1.0, 0.0]], "float32")


@pytest.mark.parametrize(
    "timesteps, expected",
    [
        (1, [2.1, -0.2]),  # step 1: A silent (0.1, −0.2); B fires channel 0 (2.1, −1.2)
        (3, [2.1, 2.8]),  # A's channel 1 fired at step 2: (0.6, 2.8)
        (4, [2.1, 2.8]),  # A's channel 0 fires at step 4 (2.1, −1.2): no new maximum
    ],
)
def test_max_input_current_by_hand(timesteps, expected):
    largest = max_input_current(_partial_snn(), X, timesteps=timesteps, batch_size=1)
    assert largest.dtype == np.float64 and largest.shape == (2,)
    np.testing.assert_allclose(largest, expected, rtol=1e-6)


def test_the_maximum_is_over_samples_and_batches():
    only_a = max_input_current(_partial_snn(), X[:1], timesteps=3)
    np.testing.assert_allclose(only_a, [0.6, 2.8], rtol=1e-6)
    only_b = max_input_current(_partial_snn(), X[1:], timesteps=3)
    np.testing.assert_allclose(only_b, [2.1, -1.2], rtol=1e-6)
    for batch_size in (1, 2, 100):
        np.testing.assert_allclose(max_input_current(_partial_snn(), X, 3, batch_size), [2.1, 2.8], rtol=1e-6)


def test_spikes_that_carry_the_threshold_scale_the_current():
    model = _partial_snn(spike_value="threshold")
    model.get_layer("neuron").threshold.assign(0.5)
    # θ = 0.5 and each spike carries 0.5. Sample A: step 1 fires channel 1 only, s = (0, 0.5) → (0.35, 1.3);
    # step 2 fires both, s = (0.5, 0.5) → (2·0.5 + 0.5·0.5 + 0.1, −0.5 + 1.5 − 0.2) = (1.35, 0.8).
    # Sample B (1.0, 0.0) fires channel 0 at both steps → (1.1, −0.7).
    np.testing.assert_allclose(max_input_current(model, X, timesteps=2), [1.35, 1.3], rtol=1e-6)


def test_a_partial_model_without_neurons_is_constant_in_time():
    inputs = keras.Input((2,))
    dense = keras.layers.Dense(2)
    model = keras.Model(inputs, dense(inputs))
    dense.set_weights([np.array([[1.0, -2.0], [3.0, 0.5]], "float32"), np.array([0.0, 1.0], "float32")])
    # Per sample: (x0 + 3·x1, −2·x0 + 0.5·x1 + 1); A → (2.4, 0.75), B → (1.0, −1.0).
    np.testing.assert_allclose(max_input_current(model, X, timesteps=5), [2.4, 0.75], rtol=1e-6)


def test_a_dataset_gives_the_same_maximum_as_the_array():
    model = _partial_snn()
    dataset = tf.data.Dataset.from_tensor_slices((X, np.zeros(2, "int64"))).batch(1)
    np.testing.assert_allclose(max_input_current(model, dataset, timesteps=3), [2.1, 2.8], rtol=1e-6)


def test_empty_data_is_refused():
    with pytest.raises(ValueError, match="empty"):
        max_input_current(_partial_snn(), np.zeros((0, 2), "float32"), timesteps=3)
