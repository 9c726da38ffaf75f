"""Post-conversion calibration (``spkeras.convert(..., calibrate=...)``) on tiny models."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import spkeras
from spkeras.calibration.modes import rates, resolve_modes
from spkeras.calibration.modes.threshold import _quantisation_error, search_thresholds
from spkeras.conversion import fold_model
from spkeras.layers import IntegrateAndFire

T = 8


def _model():
    keras.utils.set_random_seed(3)
    inputs = keras.Input((6, 6, 1))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(12, activation="relu", name="hidden")(x)
    return keras.Model(inputs, keras.layers.Dense(3, name="out")(x), name="tiny")


def _data(count=200):
    return np.random.default_rng(0).uniform(0, 1, (count, 6, 6, 1)).astype("float32")


def _neurons(snn):
    return [layer for layer in snn.layers if isinstance(layer, IntegrateAndFire)]


def _rate_errors(snn, model, x, scales):
    """Per site: |mean SNN rate − mean ANN rate| per channel (rates in spikes per step)."""
    folded = fold_model(model)
    relus = [layer for layer in folded.layers if isinstance(layer, keras.layers.ReLU)]
    targets = rates.ann_target_rates(folded, relus, scales, x)
    errors = []
    for layer, target in zip(_neurons(snn), targets):
        rate = rates.measured_rates(snn, layer, x, T)[layer.name]
        error = (target - rate).reshape(-1, target.shape[-1]).mean(axis=0)
        errors.append(np.abs(error))
    return errors


@pytest.mark.parametrize("mode", ["bias", "potential"])
def test_mode_reduces_the_rate_error_of_every_layer(mode):
    model, x = _model(), _data()
    # spike_value="threshold" keeps λ = θ, so the ANN rate a/λ is read off the network itself.
    plain = spkeras.convert(model, x, method="robust", timesteps=T, spike_value="threshold", v_init=0.5)
    tuned = spkeras.convert(model, x, method="robust", timesteps=T, spike_value="threshold", v_init=0.5, calibrate=mode)
    scales = [np.asarray(layer.threshold.numpy(), "float64") for layer in _neurons(plain)]
    before = _rate_errors(plain, model, x, scales)
    after = _rate_errors(tuned, model, x, scales)
    for site, (old, new) in enumerate(zip(before, after)):
        assert new.mean() < old.mean(), (site, old, new)
    weight = "bias_current" if mode == "bias" else "potential_offset"
    assert all(np.any(getattr(layer, weight).numpy() != 0) for layer in _neurons(tuned))


def test_later_layers_do_not_change_earlier_calibration():
    model, x = _model(), _data()
    snn = spkeras.convert(model, x, method="ecc", timesteps=T, calibrate="bias")
    first, second = _neurons(snn)
    saved = first.bias_current.numpy().copy()
    folded = fold_model(model)
    relus = [layer for layer in folded.layers if isinstance(layer, keras.layers.ReLU)]
    targets = rates.ann_target_rates(folded, relus, [np.float64(1.0)] * 2, x)
    rates.calibrate_neurons(snn, [second], targets[1:], x, T, resolve_modes("bias"))
    np.testing.assert_array_equal(first.bias_current.numpy(), saved)


def test_threshold_search_finds_the_brute_force_optimum():
    rng = np.random.default_rng(1)
    activations = np.concatenate([rng.exponential(0.3, 4000), [6.0, 7.5]]).astype("float32")[:, None]
    inputs = keras.Input((1,))
    relu = keras.layers.ReLU()
    model = keras.Model(inputs, relu(inputs))
    (chosen,) = search_thresholds(model, [relu], activations, 4, 0.5, [False], [None])

    def error(scale):
        levels = np.clip(np.floor(activations * 4 / scale + 0.5), 0, 4)
        return float(np.sum((activations - levels * scale / 4) ** 2))

    top = activations.max()
    candidates = [np.float32(top) * np.float32(1 - 0.01 * i) for i in range(80)]
    best = min(candidates, key=error)
    assert chosen == pytest.approx(best, rel=1e-6)
    assert chosen < 0.5 * top  # the two outliers are clipped


def test_a_channel_dead_on_the_calibration_data_gets_the_layer_threshold():
    inputs = keras.Input((3,))
    relu = keras.layers.ReLU()
    model = keras.Model(inputs, relu(inputs))
    x = np.random.default_rng(2).uniform(0.0, 1.0, (200, 3)).astype("float32")
    x[:, 1] = -1.0  # channel 1 never activates
    x[0, 2] = 3.0  # the layer's largest activation
    (chosen,) = search_thresholds(model, [relu], x, 8, 0.5, [True], [None])
    assert chosen[1] == pytest.approx(3.0)  # was 1e-12: any positive input elsewhere fired it at every step
    assert 0.5 < chosen[0] <= 1.0


def test_threshold_calibration_changes_the_scales_and_helps_at_low_t():
    model, x = _model(), _data(300)
    plain = spkeras.convert(model, x, method="ecc", timesteps=4, spike_value="threshold")
    tuned = spkeras.convert(model, x, method="ecc", timesteps=4, spike_value="threshold", calibrate="threshold")
    conv_plain, conv_tuned = _neurons(plain)[0], _neurons(tuned)[0]
    assert conv_tuned.per_channel and np.all(conv_tuned.threshold.numpy() <= conv_plain.threshold.numpy() + 1e-6)
    logits = fold_model(model).predict(x, verbose=0)
    gap = {
        name: float(np.mean((spkeras.simulate.record(snn, x, timesteps=4)["output"] - logits) ** 2))
        for name, snn in (("plain", plain), ("tuned", tuned))
    }
    assert gap["tuned"] < gap["plain"], gap


def test_calibrated_model_round_trips_and_source_is_unchanged(tmp_path):
    model, x = _model(), _data()
    weights = [w.copy() for w in model.get_weights()]
    snn = spkeras.convert(model, x, method="ecc", timesteps=T, calibrate="advanced")
    assert [np.array_equal(a, b) for a, b in zip(weights, model.get_weights())] == [True] * len(weights)
    path = spkeras.save_model(snn, tmp_path / "calibrated.keras")
    loaded = spkeras.load_model(path)
    for layer in _neurons(loaded):
        original = snn.get_layer(layer.name)
        assert layer.calibration_weights == {"potential_offset": "neuron_potential"}
        np.testing.assert_array_equal(layer.potential_offset.numpy(), original.potential_offset.numpy())
    np.testing.assert_array_equal(
        spkeras.simulate.record(loaded, x[:20], timesteps=T)["output"],
        spkeras.simulate.record(snn, x[:20], timesteps=T)["output"],
    )


def test_zero_calibration_weights_change_nothing():
    layer_plain = IntegrateAndFire(threshold=0.7, v_init=0.5, timesteps=4)
    weights = {"bias_current": "channel_current", "potential_offset": "neuron_potential", "step_bias": "step_current"}
    layer_flags = IntegrateAndFire(threshold=0.7, v_init=0.5, timesteps=4, calibration_weights=weights)
    current = tf.constant(np.random.default_rng(2).uniform(-0.2, 1.0, (4, 5)).astype("float32"))
    for layer in (layer_plain, layer_flags):
        layer.build(current.shape)
    states = [layer_plain.initial_state(4), layer_flags.initial_state(4)]
    for step in range(6):
        outputs = []
        for slot, layer in enumerate((layer_plain, layer_flags)):
            drive = layer.input_current(current, step) if layer.adjusts_input else current
            output, states[slot], _ = layer.step(drive, states[slot])
            outputs.append(output.numpy())
        np.testing.assert_array_equal(outputs[0], outputs[1])
    np.testing.assert_array_equal(layer_plain(current).numpy(), layer_flags(current).numpy())


def test_bias_is_fed_every_step_and_matches_the_closed_form():
    layer = IntegrateAndFire(
        threshold=1.0, v_init=0.5, calibration_weights={"bias_current": "channel_current"}, timesteps=16
    )
    current = tf.constant([[0.1, 0.3]], tf.float32)
    layer.build(current.shape)
    layer.bias_current.assign([0.2, -0.1])
    state, total = layer.initial_state(1), np.zeros((1, 2))
    for step in range(16):
        output, state, _ = layer.step(layer.input_current(current, step), state)
        total += output.numpy()
    np.testing.assert_allclose(total / 16, layer(current).numpy())
    np.testing.assert_allclose(total[0], [5.0, 3.0])  # floor(16·0.3 + 0.5), floor(16·0.2 + 0.5)


@pytest.mark.parametrize("calibrate", ["thresholds", ("bias", "nope"), 3, ()])
def test_unknown_modes_are_refused(calibrate):
    with pytest.raises(ValueError, match="Received: calibrate="):
        spkeras.convert(_model(), _data(20), calibrate=calibrate)


def test_bad_calibration_data_gives_clear_errors():
    model = _model()
    with pytest.raises(ValueError, match="sample shape"):
        spkeras.convert(model, np.zeros((10, 5, 5, 1), "float32"), calibrate="bias")
    nan = _data(20)
    nan[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        spkeras.convert(model, nan, calibrate="potential")


def test_fewer_images_than_a_batch_and_datasets_work():
    model = _model()
    small = spkeras.convert(model, _data(7), timesteps=T, calibrate="light", batch_size=100)
    dataset = tf.data.Dataset.from_tensor_slices(_data(60)).batch(25)
    streamed = spkeras.convert(model, dataset, timesteps=T, calibrate="advanced")
    for snn in (small, streamed):
        assert all(np.all(np.isfinite(layer.threshold.numpy())) for layer in _neurons(snn))
    as_array = spkeras.convert(model, _data(60), timesteps=T, calibrate="advanced")
    for a, b in zip(_neurons(streamed), _neurons(as_array)):
        np.testing.assert_allclose(a.potential_offset.numpy(), b.potential_offset.numpy(), rtol=1e-4, atol=1e-4)


def _per_step_error(snn, model, x, scales):
    """Mean over steps and channels of |E[r_t] − E[r_ANN]| of the first spiking layer (rates per step)."""
    folded = fold_model(model)
    relus = [layer for layer in folded.layers if isinstance(layer, keras.layers.ReLU)]
    target = rates.ann_target_rates(folded, relus, scales, x)[0]
    layer = _neurons(snn)[0]
    trains = spkeras.simulate.spike_trains(snn, x, timesteps=T)[layer.name] / layer.threshold.numpy()
    per_step = trains.reshape(T, -1, target.shape[-1]).mean(axis=1)
    return float(np.mean(np.abs(per_step - target.reshape(-1, target.shape[-1]).mean(axis=0))))


def test_per_step_biases_lower_the_per_step_rate_error():
    model, x = _model(), _data()
    common = dict(method="robust", timesteps=T, spike_value="threshold", v_init=0.5)
    plain = spkeras.convert(model, x, **common)
    tuned = spkeras.convert(model, x, calibrate="per_step", **common)
    first = _neurons(tuned)[0]
    assert first.calibration_weights == {"step_bias": "step_current"} and first.step_bias.shape == (T, 4)
    assert np.any(first.step_bias.numpy() != 0)
    scales = [np.asarray(layer.threshold.numpy(), "float64") for layer in _neurons(plain)]
    before, after = _per_step_error(plain, model, x, scales), _per_step_error(tuned, model, x, scales)
    assert after < 0.7 * before, (before, after)
    # Beyond its T steps the network runs without per-step biases: simulating longer stays finite and works.
    result = spkeras.evaluate(tuned, x[:20], np.zeros(20, "int64"), timesteps=2 * T)
    assert result.timesteps == 2 * T and np.all(np.isfinite(result.spikes_per_step))


def test_per_step_bias_is_applied_only_during_its_steps():
    layer = IntegrateAndFire(threshold=1.0, timesteps=2, calibration_weights={"step_bias": "step_current"})
    current = tf.zeros((1, 3))
    layer.build(current.shape)
    layer.step_bias.assign([[1.0, 0.0, 2.0], [0.5, 0.5, 0.5]])
    drives = [layer.input_current(current, step).numpy()[0].tolist() for step in range(4)]
    assert drives == [[1.0, 0.0, 2.0], [0.5, 0.5, 0.5], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]


def test_files_written_with_the_older_flags_load_as_calibration_weights():
    layer = IntegrateAndFire.from_config(
        {
            "threshold": 1.0,
            "timesteps": 4,
            "calibrated_bias": True,
            "calibrated_potential": False,
            "calibrated_steps": 4,
        }
    )
    assert layer.calibration_weights == {"bias_current": "channel_current", "step_bias": "step_current"}
    assert "calibrated_bias" not in layer.get_config()
    with pytest.raises(ValueError, match="calibrated_steps"):
        IntegrateAndFire(timesteps=4, calibrated_steps=3)
    with pytest.raises(TypeError, match="calibrated_bias"):
        IntegrateAndFire(calibrated_bias="yes")


@pytest.mark.parametrize(
    "weights, match",
    [({"bias_current": "gain"}, "'gain'"), ("bias_current", "must map"), ({"1x": "channel_current"}, "'1x'")],
)
def test_bad_calibration_weights_are_refused_with_the_roles(weights, match):
    with pytest.raises((TypeError, ValueError), match=match):
        IntegrateAndFire(calibration_weights=weights)


def test_threshold_search_errors_are_bit_identical_to_the_plain_tensorflow_formula():
    # The elementwise part runs under XLA (jit_compile); it must not change a single bit of the errors.
    rng = np.random.default_rng(4)
    activation = (np.maximum(rng.normal(size=(512, 6)), 0.0) * rng.uniform(0.1, 5.0, size=6)).astype("float32")
    top = activation.max(axis=0)
    scales = ((1.0 - 0.01 * np.arange(80))[:, None] * top[None, :]).astype("float32")
    for timesteps, v_init in [(16.0, 0.5), (4.0, 0.0)]:
        a, s = tf.constant(activation), tf.constant(scales)
        levels = tf.clip_by_value(tf.floor(a[None] * timesteps / s[:, None, :] + v_init), 0.0, timesteps)
        expected = tf.reduce_sum(tf.square(a[None] - levels * s[:, None, :] / timesteps), axis=1).numpy()
        computed = _quantisation_error(a, s, timesteps, v_init).numpy()
        np.testing.assert_array_equal(computed, expected)
