"""The simulator's fast paths give the generic path's results bit for bit, and neuron subclasses keep working.

Fast paths: the stock soft reset with θ-valued spikes computes ``spikes · θ`` once (for the reset and the output),
and with one step per chunk the loop passes each step's tensors on without stacking them.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

import spkeras
from spkeras.layers.neurons import IntegrateAndFire
from spkeras.simulate.simulator import Simulator
from tests.model_zoo import labels_from, tiny_cnn, tiny_inputs

TIMESTEPS = 12


@pytest.fixture(scope="module")
def converted():
    keras.utils.set_random_seed(0)
    model = tiny_cnn()
    x = tiny_inputs(24, seed=3)
    snn = spkeras.convert(model, x, method="robust", percentile=99, spike_value="threshold", reset="soft")
    return snn, x, labels_from(model, x)


def _results(snn, x, y, **settings):
    simulator = Simulator(snn, TIMESTEPS, **settings)
    seed = tf.constant([0, 0], tf.int64)
    correct, spikes, events = simulator.run_batch(tf.constant(x), tf.constant(y, tf.int64), seed)
    trains = simulator.output_trains(tf.constant(x), seed)
    return [correct.numpy(), spikes.numpy(), events.numpy(), trains.numpy()]


def test_stock_neurons_take_the_shared_product_fast_path(converted):
    snn, _, _ = converted
    neurons = [layer for layer in snn.layers if isinstance(layer, IntegrateAndFire)]
    assert neurons and all(layer._shares_scaled_spikes() for layer in neurons)


@pytest.mark.parametrize("chunk_size", [1, 4])
def test_fast_path_equals_the_generic_path(converted, monkeypatch, chunk_size):
    snn, x, y = converted
    fast = _results(snn, x, y, chunk_size=chunk_size)
    assert fast[1].sum() > 0
    monkeypatch.setattr(IntegrateAndFire, "_shares_scaled_spikes", lambda self: False)
    generic = _results(snn, x, y, chunk_size=chunk_size)
    for fast_value, generic_value in zip(fast, generic):
        np.testing.assert_array_equal(fast_value, generic_value)


def test_one_step_chunks_equal_stacked_chunks(converted):
    snn, x, y = converted
    for one, stacked in zip(_results(snn, x, y, chunk_size=1), _results(snn, x, y, chunk_size=TIMESTEPS)):
        np.testing.assert_array_equal(one, stacked)


class HalfThresholdFire(IntegrateAndFire):
    """Fires at half the threshold (a subclass overriding ``fire`` only)."""

    def fire(self, potential):
        return ops.cast(potential >= 0.5 * self.threshold, potential.dtype)


class ZeroReset(IntegrateAndFire):
    """Resets to zero whatever ``reset`` says (a subclass overriding ``reset_potential`` only)."""

    def reset_potential(self, potential, spikes):
        return potential * (1.0 - spikes)


def _reference(currents, threshold, fire_at, zero_reset):
    potential, outputs = np.zeros_like(currents[0]), []
    for current in currents:
        potential = potential + current
        spikes = (potential >= fire_at).astype("float32")
        potential = potential * (1 - spikes) if zero_reset else potential - spikes * np.float32(threshold)
        outputs.append(spikes * np.float32(threshold))
    return np.stack(outputs), potential


@pytest.mark.parametrize(
    "layer_class, fire_at, zero_reset, fast",
    [(IntegrateAndFire, 1.5, False, True), (HalfThresholdFire, 0.75, False, True), (ZeroReset, 1.5, True, False)],
)
def test_subclasses_overriding_a_phase_keep_their_behaviour(layer_class, fire_at, zero_reset, fast):
    layer = layer_class(threshold=1.5, spike_value="threshold")
    layer.build((None, 5))
    currents = np.random.default_rng(4).uniform(0, 1, (10, 3, 5)).astype("float32")
    state, outputs = layer.initial_state(3), []
    for current in currents:
        output, state, spikes = layer.step(current, state)
        outputs.append(ops.convert_to_numpy(output))
    expected_outputs, expected_potential = _reference(currents, 1.5, fire_at, zero_reset)
    assert layer._shares_scaled_spikes() is fast
    assert np.stack(outputs).sum() > 0
    np.testing.assert_array_equal(np.stack(outputs), expected_outputs)
    np.testing.assert_array_equal(ops.convert_to_numpy(state[0]), expected_potential)
