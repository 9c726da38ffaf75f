"""Small spiking networks for the NIR tests, and how to compare a NIR simulation with spkeras's.

The "dyadic" networks have weights, inputs and thresholds that are multiples of powers of two, so that every sum
is exact in float32 and float64 alike: spike trains must then agree bit for bit, ties (``V == θ``) included.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

import spkeras
from spkeras.layers import ChannelAffine, IntegrateAndFire
from spkeras.simulate.simulator import get_simulator
from tests.nir import reference


def dyadic(rng, shape, denominator=8):
    return (rng.integers(-6, 9, size=shape) / denominator).astype("float32")


def set_dyadic_weights(model, rng):
    for layer in model.layers:
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            layer.set_weights([dyadic(rng, w.shape) for w in layer.get_weights()])


def residual_cnn(rng, *, spike_value="unit", input_shape=(7, 5, 2)):
    """conv (rectangular kernel) → IF (per-channel θ, v_init 0.5) → conv (same) → IF → Add (residual) →
    average pooling → Flatten → Dense → IF → Dense; non-square input."""
    inputs = keras.Input(input_shape)
    conv1 = keras.layers.Conv2D(4, (3, 2), name="conv1")(inputs)
    if1 = IntegrateAndFire(threshold=[1.0, 0.5, 2.0, 1.0], v_init=0.5, spike_value=spike_value, name="if1")(conv1)
    conv2 = keras.layers.Conv2D(4, (3, 3), padding="same", name="conv2")(if1)
    if2 = IntegrateAndFire(threshold=1.0, spike_value=spike_value, name="if2")(conv2)
    added = keras.layers.Add(name="residual")([if1, if2])
    pooled = keras.layers.AveragePooling2D(2, name="pool")(added)
    flat = keras.layers.Flatten(name="flatten")(pooled)
    dense = keras.layers.Dense(6, name="dense1")(flat)
    if3 = IntegrateAndFire(threshold=0.5, v_init=0.25, spike_value=spike_value, name="if3")(dense)
    outputs = keras.layers.Dense(3, name="readout_dense")(if3)
    model = keras.Model(inputs, outputs, name="residual_cnn")
    set_dyadic_weights(model, rng)
    return model


def pooling_cnn(rng):
    """ZeroPadding2D → conv → ChannelAffine → hard-reset IF → GlobalAveragePooling2D → Dense → IF with a calibrated
    bias current and potential offset → Dense (square kernels only, so the file passes nir.read's type check)."""
    inputs = keras.Input((6, 4, 3))
    padded = keras.layers.ZeroPadding2D(1, name="pad")(inputs)
    conv = keras.layers.Conv2D(5, 3, strides=(2, 1), name="conv")(padded)
    affine = ChannelAffine(name="affine")(conv)
    hard = IntegrateAndFire(threshold=0.75, reset="hard", name="hard")(affine)
    pooled = keras.layers.GlobalAveragePooling2D(name="gap")(hard)
    dense = keras.layers.Dense(4, name="dense")(pooled)
    calibrated = IntegrateAndFire(
        threshold=[0.25, 0.5, 0.25, 1.0], v_init=0.5, calibrated_bias=True, calibrated_potential=True, name="cal"
    )(dense)
    outputs = keras.layers.Dense(3, name="out")(calibrated)
    model = keras.Model(inputs, outputs, name="pooling_cnn")
    set_dyadic_weights(model, rng)
    model.get_layer("affine").set_weights([dyadic(rng, (5,), 4) + 1.0, dyadic(rng, (5,), 16)])
    layer = model.get_layer("cal")
    layer.bias_current.assign(dyadic(rng, (4,), 16))
    layer.potential_offset.assign(dyadic(rng, (4,), 32))
    return model


def dyadic_images(rng, count, shape):
    return (rng.integers(0, 5, size=(count,) + tuple(shape)) / 4).astype("float32")


def to_channels_first(x):
    return np.transpose(x, (0, 3, 1, 2)) if x.ndim == 4 else x


def nir_layer_spikes(graph, spikes: dict, snn) -> dict:
    """Spikes per spkeras layer name from the reference run, in Keras order ``(T, B) + layer shape``."""
    found = {}
    for layer in spkeras.network.spiking_network(snn).neuron_layers:
        for key in (f"{layer.name}.threshold", layer.name):
            if key in spikes:
                value = spikes[key]
                found[layer.name] = np.transpose(value, (0, 1, 3, 4, 2)) if value.ndim == 5 else value
                break
    return found


def spkeras_outputs(snn, x, timesteps):
    """The output layer's value at every step ``(T, B, K)`` from the spkeras simulator."""
    simulator = get_simulator(snn, timesteps)
    classes = simulator.num_classes

    def body(index, result, carry):
        return carry.write(index, result.output)

    initial = tf.TensorArray(tf.float32, size=timesteps, element_shape=[1, len(x), classes])
    values = simulator.fold(tf.constant(x), body, initial, tf.constant([0, 0], tf.int64))
    return values.stack().numpy().reshape(timesteps, len(x), classes)


def compare(snn, graph, x, timesteps, dtype="float64"):
    """Runs the graph in the reference interpreter; returns (spkeras trains, NIR spikes, spkeras outputs, NIR
    output) in Keras order."""
    outputs, spikes = reference.run(graph, to_channels_first(x), timesteps, dtype=dtype)
    trains = spkeras.simulate.spike_trains(snn, x, timesteps=timesteps)
    return trains, nir_layer_spikes(graph, spikes, snn), spkeras_outputs(snn, x, timesteps), outputs["output"]
