"""The QCFS activation, prepare_for_conversion, finetune and their conversion."""

import functools
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import spkeras
from spkeras.errors import UnsupportedLayerError
from spkeras.layers import IntegrateAndFire, QuantizedClipFloorShift
from spkeras.qcfs import finetune, prepare_for_conversion
from spkeras.qcfs.prepare import REPLACED_ACTIVATIONS
from tests.layers.layer_checks import check_layer


@pytest.mark.parametrize("levels", [1, 2, 4, 8])
def test_activation_equals_the_if_neuron_mean_output_over_l_steps(levels):
    current = np.linspace(-0.5, 3.5, 401, dtype="float32")[None, :]
    qcfs = QuantizedClipFloorShift(levels=levels, threshold=2.0)
    neuron = IntegrateAndFire(threshold=2.0, v_init=0.5, spike_value="threshold", timesteps=levels)
    neuron.build(current.shape)
    state, total = neuron.initial_state(1), np.zeros_like(current)
    for _ in range(levels):
        output, state, _ = neuron.step(tf.constant(current), state)
        total += output.numpy()
    np.testing.assert_allclose(total / levels, qcfs(current).numpy(), atol=1e-6)


@pytest.mark.parametrize("timesteps", [3, 5, 16])
def test_expected_if_output_matches_the_activation_for_other_t(timesteps):
    # Over inputs uniform in a quantisation cell, E[IF mean over T] − h(z) is zero up to ±θ/(2T) per value; the
    # mean over many inputs is within 1/T of a level (θ/L) — the bound of Bu et al. (2022), Theorem 2.
    rng = np.random.default_rng(0)
    current = rng.uniform(0, 2.0, (1, 20000)).astype("float32")
    qcfs = QuantizedClipFloorShift(levels=4, threshold=2.0)
    neuron = IntegrateAndFire(threshold=2.0, v_init=0.5, spike_value="threshold", timesteps=timesteps)
    snn = neuron(current).numpy()
    assert abs(float(np.mean(snn - qcfs(current).numpy()))) < 2.0 / 4 / timesteps


def test_gradients_reach_lambda_and_the_weights():
    keras.utils.set_random_seed(0)
    dense = keras.layers.Dense(4)
    qcfs = QuantizedClipFloorShift(levels=4, threshold=0.5)
    x = tf.constant(np.random.default_rng(1).normal(size=(32, 3)).astype("float32"))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(qcfs(dense(x)) ** 2)
    gradients = tape.gradient(loss, [qcfs.threshold, dense.kernel])
    assert all(g is not None and float(tf.reduce_sum(tf.abs(g))) > 0 for g in gradients)


def test_layer_contract(tmp_path):
    check_layer(
        lambda: QuantizedClipFloorShift(levels=4, threshold=[1.0, 2.0, 3.0], per_channel=True), (2, 3), tmp_path
    )


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"levels": 0}, ValueError),
        ({"threshold": -1.0}, ValueError),
        ({"threshold": [1.0, 2.0]}, ValueError),
        ({"per_channel": "yes"}, TypeError),
    ],
)
def test_bad_arguments_are_refused(kwargs, error):
    with pytest.raises(error, match="Received"):
        QuantizedClipFloorShift(**kwargs)


def _model():
    keras.utils.set_random_seed(2)
    inputs = keras.Input((8,))
    x = keras.layers.Dense(16, activation="relu", name="hidden")(inputs)
    x = keras.layers.Dense(16, name="second")(x)
    x = keras.layers.BatchNormalization(name="norm")(x)
    x = keras.layers.ReLU(max_value=6.0, name="clipped")(x)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="out")(x), name="source")


def test_prepare_replaces_every_relu_and_keeps_the_source():
    model = _model()
    weights = [w.copy() for w in model.get_weights()]
    x = np.random.default_rng(3).normal(size=(200, 8)).astype("float32")
    prepared = prepare_for_conversion(model, levels=8, x_calibration=x)
    kinds = [type(layer).__name__ for layer in prepared.layers]
    assert kinds.count("QuantizedClipFloorShift") == 2 and "ReLU" not in kinds
    assert prepared.get_layer("hidden").get_config()["activation"] == "linear"
    assert float(prepared.get_layer("clipped").threshold.numpy()) <= 6.0
    assert all(np.array_equal(a, b) for a, b in zip(weights, model.get_weights()))
    # At high resolution (L large relative to the λ/activation ratio) the prepared model tracks the source.
    fine = prepare_for_conversion(model, levels=256, x_calibration=x, percentile=100)
    np.testing.assert_allclose(fine.predict(x, verbose=0), model.predict(x, verbose=0), atol=0.05)


def _hidden(make_activation):
    """Dense → (activation) → BatchNorm → Dense: the activation is hidden, BatchNorm follows it."""
    inputs = keras.Input((6,))
    hidden = make_activation(keras.layers.Dense(5, name="first"), inputs)
    outputs = keras.layers.Dense(3, name="head")(keras.layers.BatchNormalization(name="norm")(hidden))
    return keras.Model(inputs, outputs)


def _dense_with(activation, dense, x):
    return keras.layers.Dense(5, activation=activation, name="first")(x)


HIDDEN_ACTIVATIONS = {
    **{name: functools.partial(_dense_with, name) for name in REPLACED_ACTIVATIONS},
    "Activation_elu": lambda dense, x: keras.layers.Activation("elu", name="act")(dense(x)),
    "ELU": lambda dense, x: keras.layers.ELU(name="act")(dense(x)),
    "LeakyReLU": lambda dense, x: keras.layers.LeakyReLU(name="act")(dense(x)),
    "PReLU": lambda dense, x: keras.layers.PReLU(name="act")(dense(x)),
    "ReLU_leaky": lambda dense, x: keras.layers.ReLU(negative_slope=0.1, name="act")(dense(x)),
}


@pytest.mark.parametrize("case", sorted(HIDDEN_ACTIVATIONS))
def test_hidden_activations_without_a_spiking_equivalent_become_qcfs(case):
    model = _hidden(HIDDEN_ACTIVATIONS[case])
    with pytest.raises(UnsupportedLayerError, match="prepare_for_conversion"):
        spkeras.convert(model, np.zeros((4, 6), "float32"), timesteps=4)
    with pytest.warns(UserWarning, match="fine-tune"):
        prepared = prepare_for_conversion(model, levels=4)
    kinds = [type(layer).__name__ for layer in prepared.layers]
    assert kinds.count("QuantizedClipFloorShift") == 1, kinds
    assert not {"ELU", "LeakyReLU", "PReLU", "Activation"} & set(kinds), kinds
    first = prepared.get_layer("first")
    assert first.get_config()["activation"] == "linear"
    np.testing.assert_array_equal(first.get_weights()[0], model.get_layer("first").get_weights()[0])
    snn = spkeras.convert(prepared, None, timesteps=4)  # BatchNorm after the activation still converts
    assert any(getattr(layer, "spiking_neuron", False) for layer in snn.layers)


def test_the_output_activation_is_kept_and_plain_models_are_refused():
    inputs = keras.Input((4,))
    outputs = keras.layers.Dense(2, activation="sigmoid", name="out")(keras.layers.Dense(4, activation="relu")(inputs))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # only ReLUs replaced: no warning
        prepared = prepare_for_conversion(keras.Model(inputs, outputs), levels=4)
    assert prepared.get_layer("out").get_config()["activation"] == "sigmoid"
    plain = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="no activation to replace"):
        prepare_for_conversion(plain)


def test_converts_without_data_with_theta_lambda_and_half_potential(tmp_path):
    prepared = prepare_for_conversion(_model(), levels=4)
    path = spkeras.save_model(prepared, tmp_path / "prepared.keras")
    reloaded = spkeras.load_model(path)
    snn = spkeras.convert(reloaded, None, timesteps=4)
    neurons = [layer for layer in snn.layers if isinstance(layer, IntegrateAndFire)]
    assert [(layer.v_init, layer.reset) for layer in neurons] == [(0.5, "soft")] * 2
    with pytest.raises(ValueError, match="needs calibration data"):
        spkeras.convert(_model(), None)


def test_end_to_end_on_the_bundled_sample():
    sample = spkeras.demo.load_sample()
    cnn = spkeras.load_model(spkeras.demo.DEMO_MODEL_PATH)
    x, y = sample["x_calibration"], sample["y_calibration"]
    tuned = finetune(cnn, x, y, levels=4, epochs=1, verbose=False)
    assert {"loss", "accuracy"} <= set(tuned.finetune_history)
    x_test, y_test = sample["x_test"][:500], sample["y_test"][:500]
    ann = float(np.mean(tuned.predict(x_test, verbose=0).argmax(-1) == y_test))
    snn = spkeras.convert(tuned, None, timesteps=4)
    result = spkeras.evaluate(snn, x_test, y_test, timesteps=4)
    assert ann > 0.9
    assert result.accuracy_at(4) >= ann - 0.04, (ann, result.accuracy_at(4))


def test_prepare_keeps_every_output_of_a_multi_output_model():
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(5, activation="relu")(inputs)
    model = keras.Model(inputs, [keras.layers.Dense(2, name="a")(hidden), keras.layers.Dense(1, name="b")(hidden)])
    prepared = prepare_for_conversion(model, levels=4)
    assert [tuple(output.shape) for output in prepared.outputs] == [(None, 2), (None, 1)]
