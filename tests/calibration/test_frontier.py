"""O(depth) calibration (:mod:`spkeras.calibration.modes.frontier`) against the quadratic reference it replaced."""

from unittest import mock

import keras
import numpy as np
import pytest
import tensorflow as tf

import spkeras
from spkeras.batching import iterate_batches
from spkeras.calibration.modes import frontier, per_step, rates
from spkeras.layers import IntegrateAndFire
from spkeras.simulate import get_simulator

T = 6


def quadratic_calibrate_neurons(snn, neuron_layers, target_rates, data, timesteps, modes, batch_size=100, verbose=0):
    """The implementation before issue 30: the partial network up to each layer, simulated once per layer and mode."""
    for layer, target in zip(neuron_layers, target_rates):
        threshold = np.asarray(keras.ops.convert_to_numpy(layer.threshold), "float64")
        for mode in modes:
            measured = rates.measured_rates(snn, layer, data, timesteps, batch_size)[layer.name]
            mode.correct(layer, target - measured, threshold, timesteps)
    return []


def _residual_model():
    """Conv, a residual block (Add), a concatenation of two branches, max pooling and a dense head."""
    keras.utils.set_random_seed(5)
    inputs = keras.Input((8, 8, 2))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    y = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(x)
    y = keras.layers.Conv2D(4, 3, padding="same")(y)
    x = keras.layers.ReLU()(keras.layers.Add()([x, y]))
    a = keras.layers.Conv2D(3, 1, activation="relu")(x)
    b = keras.layers.Conv2D(2, 3, padding="same", activation="relu")(x)
    x = keras.layers.Concatenate()([a, b, x])
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(6, activation="relu")(x)
    return keras.Model(inputs, keras.layers.Dense(3)(x), name="residual")


def _data(count=70):
    return np.random.default_rng(0).uniform(0, 1, (count, 8, 8, 2)).astype("float32")


def _calibration_weights(snn):
    return [
        (layer.name, name, getattr(layer, name).numpy())
        for layer in snn.layers
        if isinstance(layer, IntegrateAndFire)
        for name in layer.calibration_weights
    ]


def _small_residual_model():
    keras.utils.set_random_seed(6)
    inputs = keras.Input((8, 8, 2))
    x = keras.layers.Conv2D(3, 3, padding="same", activation="relu")(inputs)
    y = keras.layers.Conv2D(3, 3, padding="same")(x)
    x = keras.layers.ReLU()(keras.layers.Add()([x, y]))
    return keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(x)), name="small_residual")


def test_advanced_equals_the_quadratic_implementation_on_a_small_residual_model():
    model, x = _small_residual_model(), _data(20)
    options = dict(method="robust", timesteps=4, calibrate="advanced", batch_size=8)
    fast = spkeras.convert(model, x, **options)
    with mock.patch.object(rates, "calibrate_neurons", quadratic_calibrate_neurons):
        reference = spkeras.convert(model, x, **options)
    for (name, weight, value), (_, _, expected) in zip(_calibration_weights(fast), _calibration_weights(reference)):
        assert np.any(value != 0), (name, weight)
        np.testing.assert_array_equal(value, expected, err_msg=f"{name}.{weight}")


@pytest.mark.slow
@pytest.mark.parametrize("calibrate", ["advanced", ("bias", "potential")])
def test_equals_the_quadratic_implementation_on_a_residual_model(calibrate):
    model, x = _residual_model(), _data()
    options = dict(method="robust", timesteps=T, calibrate=calibrate, batch_size=32)  # 3 batches, the last one short
    fast = spkeras.convert(model, x, **options)
    with mock.patch.object(rates, "calibrate_neurons", quadratic_calibrate_neurons):
        reference = spkeras.convert(model, x, **options)
    fast_weights, reference_weights = _calibration_weights(fast), _calibration_weights(reference)
    assert len(fast_weights) == len([layer for layer in fast.layers if isinstance(layer, IntegrateAndFire)]) * (
        1 if calibrate == "advanced" else 2
    )
    for (name, weight, value), (_, _, expected) in zip(fast_weights, reference_weights):
        assert np.any(value != 0), (name, weight)
        np.testing.assert_array_equal(value, expected, err_msg=f"{name}.{weight}")


def quadratic_calibrate_steps(snn, neuron_layers, ann, site_layers, scales, data, timesteps, alpha=0.5, **_):
    """Per-step calibration before issue 30: each layer's input currents from the partial network up to it."""
    for layer, relu, scale in zip(neuron_layers, site_layers, scales):
        currents_of = get_simulator(keras.Model(snn.inputs, layer.input), timesteps, require_neurons=False)
        activation = keras.Model(ann.inputs, relu.output)
        scale = tf.constant(np.asarray(scale, "float32"))
        corrections = per_step._step_corrections(layer, timesteps, alpha)
        for index, batch in enumerate(iterate_batches(data, per_step.BATCH_SIZE)):
            ann_rates = tf.clip_by_value(activation(batch, training=False) / scale, 0.0, 1.0)
            target = tf.reduce_mean(tf.reshape(ann_rates, [-1, tf.shape(ann_rates)[-1]]), axis=0)
            currents = currents_of.output_trains(batch, tf.constant([0, index], tf.int64))
            layer.step_bias.assign_add(corrections(currents, target))


@pytest.mark.slow
def test_per_step_equals_the_quadratic_implementation():
    model, x = _residual_model(), _data(40)  # two batches of 25 (the last one short)
    fast = spkeras.convert(model, x, method="robust", timesteps=T, calibrate="per_step")
    with mock.patch.object(per_step, "calibrate_steps", quadratic_calibrate_steps):
        reference = spkeras.convert(model, x, method="robust", timesteps=T, calibrate="per_step")
    for (name, weight, value), (_, _, expected) in zip(_calibration_weights(fast), _calibration_weights(reference)):
        assert np.any(value != 0), (name, weight)
        np.testing.assert_array_equal(value, expected, err_msg=f"{name}.{weight}")


def test_spikes_are_stored_as_bits_and_released_after_their_last_reader():
    model, x = _residual_model(), _data(30)
    snn = spkeras.convert(model, x, method="robust", timesteps=T, spike_value="threshold")
    neurons = [layer for layer in snn.layers if isinstance(layer, IntegrateAndFire)]
    store = frontier.Frontier(snn, neurons, x, T, batch_size=16)
    first = store.advance(neurons[0])
    (trains,) = [value for position, value in store.stored.items() if position != 0]
    packed = trains[0]
    assert packed.dense is None and packed.bits.nbytes == int(np.ceil(np.prod(packed.shape) / 8))
    # Re-emitted with the layer's own threshold: what the partial network's simulation passes on.
    np.testing.assert_array_equal(first, rates.measured_rates(snn, neurons[0], x, T, 16)[neurons[0].name])
    for layer in neurons[1:]:
        store.advance(layer)
    assert 0 not in store.stored and store.batches == []  # the input is read by the first segment only
    assert len(store.stored) <= 2, sorted(store.stored)  # the last layers' trains; all others were released


class _OwnFire(IntegrateAndFire):
    """Fires as IntegrateAndFire does, through its own ``fire``: the frontier keeps its emitted values."""

    def fire(self, potential):
        return keras.ops.cast(potential >= self.threshold, potential.dtype)


def test_layers_with_their_own_fire_keep_emitted_values_and_match_the_partial_simulation():
    inputs = keras.Input((5,))
    x = _OwnFire(threshold=[0.4, 0.6, 0.5, 0.3], spike_value="threshold", name="own")(keras.layers.Dense(4)(inputs))
    x = IntegrateAndFire(threshold=0.5, name="plain")(keras.layers.Dense(3)(x))
    keras.utils.set_random_seed(2)
    snn = keras.Model(inputs, keras.layers.Dense(2)(x))
    x = np.random.default_rng(4).uniform(0, 1, (30, 5)).astype("float32")
    neurons = [snn.get_layer("own"), snn.get_layer("plain")]
    store = frontier.Frontier(snn, neurons, x, T, batch_size=16)
    for layer in neurons:
        np.testing.assert_array_equal(store.advance(layer), rates.measured_rates(snn, layer, x, T, 16)[layer.name])
        (trains,) = [value for position, value in store.stored.items() if position != 0]
        assert (trains[0].bits is None) == (layer.name == "own")
