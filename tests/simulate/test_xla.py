"""XLA (``jit_compile=True``, what TPUs require) and ``chunk_size > 1`` give the default loop's results.

Tiny versions of every benchmark model (MNIST CNN, CIFAR VGG-small with average and with max pooling, ResNet-8
with projection shortcuts) are converted and calibrated; the compiled loop must give the same predictions at
every step and the same spike counts, and the calibration's measurement (the largest input current of a partial
network) the same maxima. The HLO of the compiled loop is checked for data-dependent shapes and host transfers.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import spkeras
from spkeras.calibration import max_input_current
from spkeras.simulate import get_simulator
from spkeras.simulate.simulator import Simulator

TIMESTEPS = 8


def _conv_bn(x, filters, kernel=3, strides=1):
    x = keras.layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False)(x)
    return keras.layers.BatchNormalization()(x)


def mnist_cnn():
    inputs = keras.Input((12, 12, 1))
    x = keras.layers.ReLU()(_conv_bn(inputs, 4))
    x = keras.layers.AveragePooling2D(2)(x)
    x = keras.layers.ReLU()(_conv_bn(x, 6))
    x = keras.layers.AveragePooling2D(2)(x)
    return keras.Model(inputs, keras.layers.Dense(10)(keras.layers.Flatten()(x)), name="mnist_cnn")


def vgg_small(pooling=keras.layers.AveragePooling2D):
    inputs = keras.Input((8, 8, 3))
    x = inputs
    for filters in (4, 4, None, 8, 8, None):
        x = pooling(2)(x) if filters is None else keras.layers.ReLU()(_conv_bn(x, filters))
    x = keras.layers.ReLU()(keras.layers.Dense(16)(keras.layers.Flatten()(x)))
    return keras.Model(inputs, keras.layers.Dense(10)(x), name=f"vgg_small_{pooling.__name__}")


def resnet8(widths=(4, 6, 8)):
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.ReLU()(_conv_bn(inputs, widths[0]))
    for stage, filters in enumerate(widths):
        strides = 1 if stage == 0 else 2
        y = _conv_bn(keras.layers.ReLU()(_conv_bn(x, filters, 3, strides)), filters)
        shortcut = x if strides == 1 and x.shape[-1] == filters else _conv_bn(x, filters, 1, strides)
        x = keras.layers.ReLU()(keras.layers.Add()([y, shortcut]))
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(10)(x), name="resnet8")


BUILDERS = {
    "mnist_cnn": mnist_cnn,
    "vgg_small": vgg_small,
    "vgg_small_max": lambda: vgg_small(keras.layers.MaxPooling2D),
    "resnet8": resnet8,
}


def _randomised(builder):
    keras.utils.set_random_seed(0)
    model = builder()
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            channels = layer.gamma.shape[0]
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, channels),
                    rng.uniform(-0.1, 0.2, channels),
                    rng.uniform(-0.1, 0.1, channels),
                    rng.uniform(0.5, 2.0, channels),
                ]  # fmt: skip
            )
    return model


@pytest.fixture(scope="module", params=sorted(BUILDERS))
def converted(request):
    model = _randomised(BUILDERS[request.param])
    rng = np.random.default_rng(1)
    shape = tuple(model.inputs[0].shape[1:])
    calibration = rng.uniform(0, 1, (24,) + shape).astype("float32")
    x = rng.uniform(0, 1, (12,) + shape).astype("float32")
    snn = spkeras.convert(model, calibration, timesteps=TIMESTEPS, calibrate="light")
    return snn, x, np.argmax(model.predict(x, verbose=0), axis=-1), calibration


def test_xla_and_chunks_give_the_default_predictions_and_spike_counts(converted):
    snn, x, y, _ = converted
    default = spkeras.evaluate(snn, x, y, batch_size=5)
    for options in ({"jit_compile": True}, {"chunk_size": 4}, {"chunk_size": 4, "jit_compile": True}):
        other = spkeras.evaluate(snn, x, y, batch_size=5, **options)
        np.testing.assert_array_equal(other.accuracy, default.accuracy, err_msg=str(options))
        np.testing.assert_array_equal(other.spikes_per_step, default.spikes_per_step, err_msg=str(options))
        np.testing.assert_array_equal(other.events_per_step, default.events_per_step, err_msg=str(options))
    assert default.spikes_per_image() > 0


def test_xla_gives_the_default_per_step_outputs(converted):
    snn, x, _, _ = converted
    seed = tf.constant([0, 0], tf.int64)
    plain = get_simulator(snn, TIMESTEPS).output_trains(x, seed).numpy()
    compiled = get_simulator(snn, TIMESTEPS, jit_compile=True).output_trains(x, seed).numpy()
    # Same predictions at every step: the argmax of the running sum of the output.
    np.testing.assert_array_equal(np.cumsum(compiled, 0).argmax(-1), np.cumsum(plain, 0).argmax(-1))
    np.testing.assert_allclose(compiled, plain, rtol=1e-5, atol=1e-5)


def test_xla_gives_the_calibration_measurements(converted):
    snn, _, _, calibration = converted
    neuron = [layer for layer in snn.layers if isinstance(layer, spkeras.layers.IntegrateAndFire)][-1]
    partial = keras.Model(snn.inputs, neuron.input)
    plain = max_input_current(partial, calibration, TIMESTEPS, batch_size=10)
    simulator = get_simulator(partial, TIMESTEPS, jit_compile=True, require_neurons=False)
    compiled = np.max([simulator.output_maximum(batch, tf.constant([0, 0], tf.int64)) for batch in (
        calibration[:10], calibration[10:20], calibration[20:])], axis=0)  # fmt: skip
    np.testing.assert_allclose(compiled, plain, rtol=1e-6)


def test_the_compiled_loop_has_static_shapes_and_no_host_transfers(converted):
    snn, x, y, _ = converted
    simulator = Simulator(snn, TIMESTEPS, jit_compile=True)
    arguments = (tf.constant(x), tf.constant(y, tf.int64), tf.constant([0, 0], tf.int64))
    hlo = simulator.run_batch.experimental_get_compiler_ir(*arguments)(stage="hlo")
    assert hlo.count(" while(") == 1  # the loop over chunks runs on the device, once per batch
    for marker in ("[<=", "send(", "recv(", "infeed(", "outfeed(", "custom-call("):
        assert marker not in hlo, marker  # bounded-dynamic shapes, transfers or host callbacks
