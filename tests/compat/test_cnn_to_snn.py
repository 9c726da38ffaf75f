"""The SpKeras-compatible entry point ``spkeras.models.cnn_to_snn`` (default ECC mode and legacy=True)."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import spkeras
from spkeras import compat
from spkeras.layers import IntegrateAndFire
from spkeras.models import cnn_to_snn
from tests.model_zoo import labels_from, tiny_cnn, tiny_inputs

REFERENCE_STEPS = (4, 8, 16, 32, 64, 128, 256)
# Accuracy of the original SpKeras on the reference model (SPKERAS_COMPAT.md §7).
REFERENCE_ACCURACY = {4: 0.8619, 8: 0.9033, 16: 0.9731, 32: 0.9850, 64: 0.9847, 128: 0.9851, 256: 0.9856}


@pytest.fixture
def demo_model():
    return spkeras.load_model(spkeras.demo.DEMO_MODEL_PATH)


def _mnist(shared_dir):
    with np.load(shared_dir / "data" / "mnist.npz") as data:
        x_train = (data["x_train"] / 255.0).astype("float32")[..., None]
        x_test = (data["x_test"] / 255.0).astype("float32")[..., None]
        return x_train, x_test, data["y_test"].astype("int64")


@pytest.fixture
def reference(shared_dir):
    """The reference CNN converted with legacy=True on all 60,000 MNIST training images (about 3 s)."""
    folder = shared_dir / "spkeras-reference"
    x_train, x_test, y_test = _mnist(shared_dir)
    cnn = spkeras.load_model(folder / "mnist_cnn.h5")
    snn = cnn_to_snn(legacy=True)(cnn, x_train)
    with (
        np.load(folder / "mnist_converted_params.npz") as params,
        np.load(folder / "mnist_output_counts.npz") as counts,
    ):
        return {
            "cnn": cnn,
            "snn": snn,
            "x_train": x_train,
            "x_test": x_test,
            "y_test": y_test,
            "params": dict(params),
            "counts": dict(counts),
        }


# --- default mode: spkeras's own ECC -----------------------------------------------------------------------


def test_default_mode_equals_spkeras_ecc(demo_model, demo_sample, capsys):
    x_cal, x_test, y_test = demo_sample["x_calibration"][:300], demo_sample["x_test"][:200], demo_sample["y_test"][:200]
    snn_model = cnn_to_snn(signed_bit=0)(demo_model, x_cal)
    loss, accuracy = snn_model.evaluate(x_test, keras.utils.to_categorical(y_test, 10), timesteps=32)

    snn = spkeras.convert(demo_model, x_cal, method="ecc", amp_factor=100, v_init=0.5, timesteps=256)
    expected = spkeras.evaluate(snn, x_test, y_test, timesteps=32)
    for mine, theirs in zip(snn_model.model.get_weights(), snn.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
    assert accuracy == expected.accuracy_at(32)
    np.testing.assert_array_equal(snn_model.result.accuracy, expected.accuracy)
    np.testing.assert_array_equal(snn_model.result.spikes_per_step, expected.spikes_per_step)
    # Loss: cross-entropy of softmax(mean output current over T steps).
    output = spkeras.simulate.record(snn, x_test, timesteps=32)["output"].astype("float64")
    log_probs = output - output.max(1, keepdims=True)
    log_probs -= np.log(np.exp(log_probs).sum(1, keepdims=True))
    assert loss == pytest.approx(-np.mean(log_probs[np.arange(len(y_test)), y_test]), rel=1e-9)
    # Integer labels give the same; nothing is printed.
    assert snn_model.evaluate(x_test, y_test, timesteps=32, compute_loss=False)[1] == accuracy
    assert capsys.readouterr().out == ""


def test_default_evaluate_settings_match_spkeras(demo_model, demo_sample):
    x_cal, x_test, y_test = demo_sample["x_calibration"][:200], demo_sample["x_test"][:100], demo_sample["y_test"][:100]
    snn_model = cnn_to_snn()(demo_model, x_cal)
    snn_model.evaluate(x_test, y_test, timesteps=16, thresholding=0.0, compute_loss=False)
    expected = spkeras.evaluate(
        spkeras.convert(demo_model, x_cal, method="ecc", v_init=0.0), x_test, y_test, timesteps=16
    )
    np.testing.assert_array_equal(snn_model.result.accuracy, expected.accuracy)
    # scaling_factor multiplies the thresholds of the time-stepped network.
    scaled = snn_model.chts_model(16, scaling_factor=2)
    base = snn_model.chts_model(16)

    def thresholds(model):
        return [
            float(keras.ops.convert_to_numpy(layer.threshold))
            for layer in model.layers
            if isinstance(layer, IntegrateAndFire)
        ]

    assert thresholds(scaled) == [2 * t for t in thresholds(base)]


def test_default_signed_bit_uses_ecc_quantisation(demo_model, demo_sample):
    x_cal = demo_sample["x_calibration"][:200]
    snn_model = cnn_to_snn(signed_bit=8)(demo_model, x_cal)
    snn = spkeras.convert(demo_model, x_cal, method="ecc", v_init=0.5, timesteps=256, signed_bit=8)
    for mine, theirs in zip(snn_model.model.get_weights(), snn.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
    kernel = snn_model.model.layers[1].get_weights()[0]
    np.testing.assert_array_equal(kernel, np.trunc(kernel))  # integer weights
    assert np.max(np.abs(kernel)) <= 2**7


def test_spike_counter_default_counts_every_image(demo_model, demo_sample):
    x_cal, x = demo_sample["x_calibration"][:200], demo_sample["x_test"][:150]
    snn_model = cnn_to_snn()(demo_model, x_cal)
    maxima, per_image = snn_model.SpikeCounter(x, timesteps=16)
    result = spkeras.evaluate(snn_model.model, x, demo_sample["y_test"][:150], timesteps=16)
    assert per_image == [float(np.ceil(round(v * 150) / 150)) for v in result.spikes_per_layer().values()]
    assert len(maxima) == 2 and all(0 < m <= 16 for m in maxima)
    _, histograms = snn_model.SpikeCounter(x, timesteps=16, mode=1)
    _, neurons = snn_model.NeuronNumbers()
    assert [sum(h) for h in histograms] == [150 * n for n in neurons]
    assert [len(h) - 1 for h in histograms] == maxima


def test_neuron_numbers_and_config(demo_model, demo_sample):
    snn_model = cnn_to_snn()(demo_model, demo_sample["x_calibration"][:200])
    shapes, neurons = snn_model.NeuronNumbers(mode=0)
    linear = (keras.layers.Conv2D, keras.layers.Dense)
    assert shapes == [tuple(layer.kernel.shape) for layer in demo_model.layers if isinstance(layer, linear)]
    neuron_layers = [layer for layer in snn_model.model.layers if isinstance(layer, IntegrateAndFire)]
    assert neurons == [int(np.prod(layer.output.shape[1:])) for layer in neuron_layers] and len(neurons) == 2
    assert snn_model.NeuronNumbers(mode=1) == (shapes, neurons)  # no spiking layer after pooling
    config = snn_model.get_config()
    assert json.loads(json.dumps(config)) == config
    first_linear = next(layer for layer in demo_model.layers if isinstance(layer, linear))
    assert config["legacy"] is False and config["use_bias"] is first_linear.use_bias and config["amp_factor"] == 100


# --- legacy mode: SpKeras's numbers, bit for bit -------------------------------------------------------------


def test_legacy_reproduces_reference_parameters(reference):
    snn, params = reference["snn"], reference["params"]
    np.testing.assert_array_equal(np.float32(snn.lambdas), params["lambdas"].astype("float32"))
    np.testing.assert_array_equal(np.float32(snn.norm_factors), params["norm_factors"].astype("float32"))
    spikes = compat.spike_layers(snn.model)
    assert len(spikes) == 5
    for k, layer in enumerate(spikes):
        assert np.float32(layer.threshold) == np.float32(params[f"spike{k}_threshold"])
        np.testing.assert_array_equal(np.float32(layer.bias), params[f"spike{k}_bias"].astype("float32"))
    linear = [layer for layer in snn.model.layers if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense))]
    names = ["linear0_Conv2D", "linear1_Conv2D", "linear2_Dense"]
    for layer, name in zip(linear, names, strict=True):
        kernel, bias = layer.get_weights()
        np.testing.assert_array_equal(kernel, params[f"{name}_w0"])
        np.testing.assert_array_equal(bias, np.zeros_like(bias))


def test_legacy_reproduces_reference_counts_first_500(reference):
    snn, x_test = reference["snn"], reference["x_test"][:500]
    for steps in REFERENCE_STEPS:
        counts = compat.output_counts(snn.chts_model(steps), x_test, steps)
        np.testing.assert_array_equal(counts, reference["counts"][f"T{steps}"][:500], err_msg=f"T={steps}")


def test_legacy_reproduces_reference_counts_all_images(reference):
    """All 10,000 test images at every T of the reference (about 5 s on 2 CPU cores)."""
    snn, x_test, y_test = reference["snn"], reference["x_test"], reference["y_test"]
    np.testing.assert_array_equal(y_test, reference["counts"]["y_test"])
    for steps in REFERENCE_STEPS:
        counts = compat.output_counts(snn.chts_model(steps), x_test, steps)
        np.testing.assert_array_equal(counts, reference["counts"][f"T{steps}"], err_msg=f"T={steps}")
        loss, accuracy = snn.evaluate(x_test, keras.utils.to_categorical(y_test, 10), timesteps=steps)
        assert accuracy == REFERENCE_ACCURACY[steps]
        assert np.isfinite(loss)


def test_legacy_quantisation_reproduces_the_threshold_bug(reference):
    x_train, x_test, y_test = reference["x_train"], reference["x_test"][:2000], reference["y_test"][:2000]
    snn = cnn_to_snn(signed_bit=8, legacy=True)(reference["cnn"], x_train)
    thresholds = [layer.threshold for layer in compat.spike_layers(snn.model)]
    # θ = max|W|·κ (SPKERAS_COMPAT.md §3.3: norms 4.23, 0.97, 0.365); pooling layers keep λ_pool/λ_prev.
    np.testing.assert_allclose(thresholds[::2], [423.3, 97.02, 36.52], rtol=1e-3)
    assert thresholds[1::2] == [float(np.float32(r)) for r in snn.norm_factors[1::2]]
    predictions = np.argmax(compat.output_counts(snn.chts_model(64), x_test, 64), axis=1)
    assert np.all(predictions == predictions[0])  # everything collapses to one class
    assert snn.evaluate(x_test, y_test, timesteps=64)[1] < 0.2


def test_legacy_calibration_ignores_tail_and_layer_epsilon():
    model, x = tiny_cnn(batchnorm=True), tiny_inputs(250)
    first = cnn_to_snn(legacy=True)(model, x[:200])
    with_tail = cnn_to_snn(legacy=True)(model, x)
    assert first.lambdas[1:] == with_tail.lambdas[1:]  # images 200..249 are ignored (⌊N/100⌋·100)
    # The BN (epsilon=0.01) is folded with the global epsilon argument.
    other = cnn_to_snn(legacy=True, epsilon=0.01)(model, x[:200])
    plan_default, plan_other = first._backend.plan, other._backend.plan
    assert plan_default.lambdas == plan_other.lambdas
    assert not np.array_equal(plan_default.steps[0].kernel, plan_other.steps[0].kernel)
    (bn,) = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    gamma, beta, mean, variance = bn.get_weights()
    kernel = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)][0].get_weights()[0]
    scale = gamma / np.sqrt(variance + 0.001)
    expected = 100 * (scale * kernel) / plan_default.norm_factors[0]
    np.testing.assert_array_equal(plan_default.steps[0].kernel, expected)
    np.testing.assert_array_equal(
        plan_default.steps[1].bias, 100 * (scale * (0 - mean) + beta) / first._backend.plan.lambdas[1]
    )


def test_legacy_converts_activation_kwargs_and_relu_layers():
    model, x = tiny_cnn(functional=False), tiny_inputs(600)
    labels = labels_from(model, x[300:])
    snn_model = cnn_to_snn(legacy=True)(model, x[:300])
    types = [type(layer).__name__ for layer in snn_model.model.layers]
    assert types.count("SpikeActivation") == 5  # conv, pool, conv (relu kwarg), dense (relu kwarg), output
    assert "Activation" not in types  # the tiny model has no softmax
    _, accuracy = snn_model.evaluate(x[300:], labels, timesteps=256)
    assert accuracy > 0.8
    shapes, neurons = snn_model.NeuronNumbers()
    assert len(shapes) == 4 and len(neurons) == 5
    assert len(snn_model.NeuronNumbers(mode=1)[1]) == 4


def test_spike_counter_legacy_reproduces_spkeras_rules():
    model, x = tiny_cnn(), tiny_inputs(450)
    snn_model = cnn_to_snn(legacy=True)(model, x[:300])
    maxima, per_image = snn_model.SpikeCounter(x[300:], timesteps=32)  # 150 images: SpKeras counts 100, divides by 150
    counts = list(compat.layer_counts(snn_model.chts_model(32), x[300:400], 32))
    totals = [sum(float(batch[k].sum()) for batch in counts) for k in range(5)]
    assert per_image == [float(np.ceil(total / 150)) for total in totals]
    assert maxima == [max(float(batch[k].max()) for batch in counts) for k in range(5)]
    _, histograms = snn_model.SpikeCounter(x[300:], timesteps=32, mode=1)
    _, neurons = snn_model.NeuronNumbers()
    assert [sum(h) for h in histograms] == [100 * n for n in neurons]


def test_spike_activation_layer_closed_form_and_config():
    layer = compat.SpikeActivation(threshold=2.0, bias=[0.25, -1.0], timesteps=8)
    x = np.array([[3.0, 3.0]], dtype="float32")
    # floor((relu(3 + 0.25·8) + 1) / 2) = 3 and floor((relu(3 − 8) + 1) / 2) = 0
    np.testing.assert_array_equal(layer(x).numpy(), [[3.0, 0.0]])
    config = layer.get_config()
    assert json.loads(json.dumps(config)) == config
    clone = compat.SpikeActivation.from_config({**config, "noneloss": True, "spike_ext": -1})
    # noneloss: no floor and no +θ/2; spike_ext=-1: no clip and T' = T − 1 for the bias (SpKeras bug 13).
    np.testing.assert_array_equal(clone(x).numpy(), [[(3 + 0.25 * 7) / 2, 0.0]])


# --- errors ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [{"timesteps": 0}, {"thresholding": -1}, {"signed_bit": -2}, {"amp_factor": 0}, {"user_define": 3.0}],
)
def test_bad_constructor_arguments_are_refused(kwargs):
    with pytest.raises(ValueError, match="Received"):
        cnn_to_snn(**kwargs)


def test_misuse_is_refused_with_a_fix(demo_model, demo_sample):
    with pytest.raises(ValueError, match="Convert first"):
        cnn_to_snn().evaluate(demo_sample["x_test"][:10], demo_sample["y_test"][:10])
    snn_model = cnn_to_snn()(demo_model, demo_sample["x_calibration"][:100])
    x, y = demo_sample["x_test"][:10], demo_sample["y_test"][:10]
    with pytest.raises(ValueError, match="legacy=True"):
        snn_model.evaluate(x, y, timesteps=8, spike_ext=2)
    with pytest.raises(ValueError, match="legacy=True"):
        snn_model.evaluate(x, y, timesteps=8, fix=255)
    with pytest.raises(ValueError, match="mode"):
        snn_model.SpikeCounter(x, timesteps=8, mode=2)
    with pytest.raises(TypeError, match="floating-point"):
        snn_model.evaluate((x * 255).astype("uint8"), y, timesteps=8)
    with pytest.raises(TypeError, match="spkeras.evaluate for datasets"):
        snn_model.evaluate(tf.data.Dataset.from_tensor_slices(x).batch(5), y, timesteps=8)
    with pytest.raises(ValueError, match="Received: 50"):
        cnn_to_snn(legacy=True)(demo_model, demo_sample["x_calibration"][:50])


def test_legacy_refuses_models_outside_the_spkeras_pattern():
    inputs = keras.Input((8, 8, 1))
    tensor = keras.layers.Conv2D(2, 3)(inputs)
    tensor = keras.layers.AveragePooling2D(2)(tensor)  # pooling before the ReLU
    tensor = keras.layers.ReLU()(tensor)
    tensor = keras.layers.Dense(3)(keras.layers.Flatten()(tensor))
    model = keras.Model(inputs, tensor)
    x = np.random.default_rng(0).uniform(0, 1, (100, 8, 8, 1)).astype("float32")
    with pytest.raises(ValueError, match="legacy=False"):
        cnn_to_snn(legacy=True)(model, x)
    # The default mode converts it: the spiking network simulates and tracks the ANN's logits.
    snn = cnn_to_snn()(model, x).model
    assert sum(isinstance(layer, IntegrateAndFire) for layer in snn.layers) == 1
    logits = model.predict(x[:40], verbose=0)
    output = spkeras.simulate.record(snn, x[:40], timesteps=256)["output"]
    assert np.abs(output - logits).mean() < 0.01 * np.abs(logits).mean()
    result = spkeras.evaluate(snn, x[:40], labels_from(model, x[:40]), timesteps=256)
    assert result.accuracy_at(256) >= 0.9


def test_legacy_user_define_and_saved_model(tmp_path):
    model, x = tiny_cnn(), tiny_inputs(200)
    fixed = cnn_to_snn(legacy=True, user_define=3.0)(model, x)
    measured = cnn_to_snn(legacy=True)(model, x)
    # Every λ is 3 except λ0 (max input) and the output's (pre-softmax maximum), as in SpKeras.
    assert fixed.lambdas[1:-1] == [3.0] * 4
    assert fixed.lambdas[0] == measured.lambdas[0] and fixed.lambdas[-1] == measured.lambdas[-1]
    path = spkeras.save_model(measured.chts_model(64), tmp_path / "legacy.keras")
    restored = keras.saving.load_model(path)
    inputs = compat.encode_input(x[:20], 64)
    np.testing.assert_array_equal(
        restored.predict(inputs, verbose=0), measured.chts_model(64).predict(inputs, verbose=0)
    )
