"""Extending spkeras from outside the package (docs/extending.md): a method with its own neuron variant and option,
and a converter for a new layer type, each one plain file under tests/plugins/ imported by path.

The plugins register themselves on import; the fixtures unregister them afterwards so that no other test sees
them. (Keras's serialization registry cannot be unregistered; the plugins use their own package name there.)
"""

import ast
import importlib.util
import pathlib

import keras
import numpy as np
import pytest

import spkeras
from spkeras.calibration.modes import available_modes, available_pipelines, rates, unregister_mode
from spkeras.conversion import layer_report, register_converter, unregister_converter
from spkeras.conversion.registry import registered_converter
from spkeras.errors import UnsupportedLayerError
from spkeras.methods import available_methods, get_method, unregister_method

PLUGINS = pathlib.Path(__file__).resolve().parent / "plugins"


def _import_plugin(name: str):
    """Imports tests/plugins/<name>.py from its path, as a user's own module outside the spkeras package."""
    spec = importlib.util.spec_from_file_location(f"spkeras_test_plugin_{name}", PLUGINS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def leaky():
    module = _import_plugin("leaky_method")
    assert get_method(module.METHOD) is module.LeakyMax
    try:
        yield module
    finally:
        unregister_method(module.METHOD)
    assert module.METHOD not in available_methods()


@pytest.fixture(scope="module")
def crop():
    module = _import_plugin("crop_converter")
    try:
        yield module
    finally:
        unregister_converter(module.BorderCrop2D)
    assert registered_converter(module.BorderCrop2D) is None


@pytest.fixture(scope="module")
def channel_potential():
    module = _import_plugin("channel_potential_mode")
    try:
        yield module
    finally:
        unregister_mode(module.MODE)
    assert module.MODE not in available_modes() and module.PIPELINE not in available_pipelines()


@pytest.fixture(scope="module")
def sample():
    data = spkeras.demo.load_sample()
    return {
        "x_calibration": data["x_calibration"][:100],
        "x_test": data["x_test"][:100],
        "y_test": data["y_test"][:100],
    }


def _demo_cnn():
    return spkeras.load_model(spkeras.demo.DEMO_MODEL_PATH)


def _neurons(snn):
    return [layer for layer in snn.layers if getattr(layer, "spiking_neuron", False)]


def _thresholds(snn):
    return [keras.ops.convert_to_numpy(layer.threshold) for layer in _neurons(snn)]


@pytest.mark.parametrize("name", ["leaky_method", "crop_converter"])
def test_the_plugins_import_only_public_spkeras_names(name):
    imported = []
    for node in ast.walk(ast.parse((PLUGINS / f"{name}.py").read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module.split(".")[0] == "spkeras":
            imported += [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            imported += [alias.name for alias in node.names if alias.name.split(".")[0] == "spkeras"]
    assert imported
    private = [path for path in imported if any(part.startswith("_") for part in path.split("."))]
    assert not private, f"tests/plugins/{name}.py reaches into private spkeras names: {private}"


# --- a method with its own neuron variant and option -------------------------------------------------------------


def test_the_method_option_reaches_every_neuron_layer(leaky, sample):
    snn = spkeras.convert(_demo_cnn(), sample["x_calibration"], method=leaky.METHOD, timesteps=16, leak=0.8)
    neurons = _neurons(snn)
    assert [type(layer) for layer in neurons] == [leaky.LeakyIntegrateAndFire] * 2  # the demo's two ReLU sites
    assert [layer.leak for layer in neurons] == [0.8, 0.8]
    assert {layer.reset for layer in neurons} == {"soft"}  # the method's default, not the "max" method's
    assert "leak=0.8" in get_method(leaky.METHOD)(leak=0.8).describe()


def test_bad_options_fail_before_any_work(leaky, sample):
    with pytest.raises(ValueError, match=r"`leak` must be in \(0, 1\]\. Received: leak=1\.5"):
        spkeras.convert(_demo_cnn(), sample["x_calibration"], method=leaky.METHOD, leak=1.5)
    with pytest.raises(TypeError, match=r"unexpected option\(s\) \['leek'\]"):
        spkeras.convert(_demo_cnn(), sample["x_calibration"], method=leaky.METHOD, leek=0.9)


def test_the_leaky_closed_form_is_the_count_of_its_own_dynamics(leaky):
    layer = leaky.LeakyIntegrateAndFire(threshold=1.0, leak=0.8, v_init=0.5, timesteps=16)
    current = np.array([[0.0, 0.1, 0.19, 0.25, 0.5, 1.0, 2.5]], dtype="float32")
    layer.build(current.shape)
    state, count = layer.initial_state(1), np.zeros_like(current)
    for _ in range(16):
        _, state, spikes = layer.step(current, state)
        count += keras.ops.convert_to_numpy(spikes)
    assert count.tolist() == [[0, 0, 0, 2, 6, 16, 16]]  # leak 0.8: a current below θ·(1 − 0.8) never fires
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer.closed_form_count(current, 16)), count)
    as_tensor = layer.closed_form_count(current, keras.ops.convert_to_tensor(16.0))  # as estimate_closed_form calls it
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(as_tensor), count)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(current)), count / 16)


def test_the_leaky_closed_form_starts_from_a_calibrated_potential(leaky):
    # Post-conversion calibration (calibrate="potential") offsets the start potential; the count must follow.
    layer = leaky.LeakyIntegrateAndFire(
        threshold=1.0, leak=0.8, timesteps=8, calibration_weights={"potential_offset": "neuron_potential"}
    )
    current = np.full((1, 4), 0.3, dtype="float32")
    layer.build(current.shape)
    layer.potential_offset.assign(np.array([0.0, 0.5, 0.9, -0.5], dtype="float32"))
    state, count = layer.initial_state(1), np.zeros_like(current)
    for _ in range(8):
        _, state, spikes = layer.step(current, state)
        count += keras.ops.convert_to_numpy(spikes)
    assert len(set(count.ravel().tolist())) > 1  # the offsets change the count
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer.closed_form_count(current, 8)), count)


def test_leak_lowers_spike_counts_for_the_same_thresholds(leaky, sample):
    cnn = _demo_cnn()
    x, y, x_test = sample["x_calibration"], sample["y_test"], sample["x_test"]
    plain = spkeras.convert(cnn, x, method="max", reset="soft", timesteps=32)
    no_leak = spkeras.convert(cnn, x, method=leaky.METHOD, leak=1.0, timesteps=32)
    leaking = spkeras.convert(cnn, x, method=leaky.METHOD, leak=0.9, timesteps=32)
    for snn in (no_leak, leaking):
        for own, reference in zip(_thresholds(snn), _thresholds(plain)):
            np.testing.assert_array_equal(own, reference)

    results = {
        name: spkeras.evaluate(snn, x_test, y, timesteps=32)
        for name, snn in (("plain", plain), ("no_leak", no_leak), ("leaking", leaking))
    }
    # leak=1 is the plain IF neuron, step for step; leak=0.9 loses charge, so every layer fires less.
    np.testing.assert_allclose(results["no_leak"].spikes_per_step, results["plain"].spikes_per_step, rtol=1e-6)
    np.testing.assert_array_equal(results["no_leak"].accuracy, results["plain"].accuracy)
    plain_counts, leaky_counts = results["plain"].spikes_per_layer(), results["leaking"].spikes_per_layer()
    assert all(leaky_counts[name] < 0.95 * plain_counts[name] for name in plain_counts), (leaky_counts, plain_counts)

    # The closed form (the neuron's own closed_form_count) shows the same direction.
    estimates = [spkeras.estimate_closed_form(snn, x_test, y, timesteps=32) for snn in (plain, leaking)]
    assert estimates[1].spikes_per_image[0] < 0.95 * estimates[0].spikes_per_image[0]


def test_save_and_load_keep_the_neuron_class_and_its_leak(leaky, sample, tmp_path):
    snn = spkeras.convert(_demo_cnn(), sample["x_calibration"], method=leaky.METHOD, leak=0.85, timesteps=16)
    path = tmp_path / "leaky_snn.keras"
    spkeras.save_model(snn, path)
    loaded = spkeras.load_model(path)
    neurons = _neurons(loaded)
    assert [type(layer) for layer in neurons] == [leaky.LeakyIntegrateAndFire] * 2
    assert [layer.leak for layer in neurons] == [0.85] * 2
    for own, reference in zip(_thresholds(loaded), _thresholds(snn)):
        np.testing.assert_array_equal(own, reference)
    x = sample["x_test"][:20]
    np.testing.assert_allclose(loaded.predict(x, verbose=0), snn.predict(x, verbose=0), rtol=1e-6, atol=1e-7)


# --- a converter for a new layer type ----------------------------------------------------------------------------


def _demo_with_crop(crop_module) -> keras.Model:
    """The demo CNN with ZeroPadding2D(1) and BorderCrop2D(1) after the first pooling: the same function."""
    cnn = _demo_cnn()
    inputs = keras.Input(cnn.inputs[0].shape[1:])
    tensor = inputs
    for layer in cnn.layers:
        copy = type(layer).from_config(layer.get_config())
        tensor = copy(tensor)
        copy.set_weights(layer.get_weights())
        if layer.name == "average_pooling2d":
            tensor = keras.layers.ZeroPadding2D(1, name="pad")(tensor)
            tensor = crop_module.BorderCrop2D(1, name="crop")(tensor)
    return keras.Model(inputs, tensor, name="demo_with_crop")


def test_a_third_party_layer_converts_with_its_converter(crop, sample):
    model = _demo_with_crop(crop)
    x_test, y_test = sample["x_test"], sample["y_test"]
    cnn = _demo_cnn()
    np.testing.assert_allclose(model.predict(x_test, verbose=0), cnn.predict(x_test, verbose=0), atol=1e-6)
    assert ("crop", "BorderCrop2D", None) in layer_report(model)

    snn = spkeras.convert(model, sample["x_calibration"], method="ecc", timesteps=64)
    crops = [layer for layer in snn.layers if isinstance(layer, crop.BorderCrop2D)]
    assert len(crops) == 1 and crops[0].margin == 1
    assert tuple(crops[0].output.shape[1:]) == (13, 13, 16)

    # The crop undoes the padding exactly, so the SNN is the demo's SNN step for step, and it tracks the ANN.
    reference = spkeras.convert(cnn, sample["x_calibration"], method="ecc", timesteps=64)
    result = spkeras.evaluate(snn, x_test, y_test, timesteps=64)
    expected = spkeras.evaluate(reference, x_test, y_test, timesteps=64)
    np.testing.assert_array_equal(result.accuracy, expected.accuracy)
    np.testing.assert_allclose(result.spikes_per_step, expected.spikes_per_step, rtol=1e-5)
    ann_accuracy = float(np.mean(model.predict(x_test, verbose=0).argmax(-1) == y_test))
    assert result.accuracy_at(64) >= ann_accuracy - 0.03, (result.accuracy_at(64), ann_accuracy)


def test_the_converted_layer_saves_and_loads(crop, sample, tmp_path):
    snn = spkeras.convert(_demo_with_crop(crop), sample["x_calibration"], timesteps=16)
    path = tmp_path / "crop_snn.keras"
    spkeras.save_model(snn, path)
    loaded = spkeras.load_model(path)
    assert [layer.margin for layer in loaded.layers if isinstance(layer, crop.BorderCrop2D)] == [1]
    x = sample["x_test"][:20]
    np.testing.assert_allclose(loaded.predict(x, verbose=0), snn.predict(x, verbose=0), rtol=1e-6, atol=1e-7)


def test_without_its_converter_the_layer_is_refused(crop, sample):
    model = _demo_with_crop(crop)
    unregister_converter(crop.BorderCrop2D)
    try:
        with pytest.raises(UnsupportedLayerError, match=r"'crop' \(BorderCrop2D\).*no converter is registered"):
            spkeras.convert(model, sample["x_calibration"])
    finally:
        register_converter(crop.BorderCrop2D)(crop.convert_border_crop)


def test_a_calibration_mode_in_one_file_converts_saves_and_lowers_the_rate_error(channel_potential, tmp_path):
    """The plugin mode is usable by name and in its pipeline; its weight is per channel and survives .keras."""
    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [
            keras.Input((6, 6, 1)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(3),
        ]
    )
    x = np.random.default_rng(0).uniform(0, 1, (120, 6, 6, 1)).astype("float32")
    options = dict(method="robust", timesteps=4, spike_value="threshold", v_init=0.5)
    plain = spkeras.convert(model, x, **options)
    tuned = spkeras.convert(model, x, calibrate=channel_potential.MODE, **options)
    piped = spkeras.convert(model, x, calibrate=channel_potential.PIPELINE, **options)
    neuron = next(layer for layer in tuned.layers if getattr(layer, "spiking_neuron", False))
    assert neuron.calibration_weights == {"channel_offset": "neuron_potential"}
    offset = neuron.channel_offset.numpy()
    assert np.any(offset != 0)
    np.testing.assert_array_equal(offset, np.broadcast_to(offset[:1, :1], offset.shape))  # one value per channel
    # Spikes carry θ = λ (spike_value="threshold"), so the ANN's rate is clip(a/θ, 0, 1); the mode lowers the
    # per-channel mean error of the first layer's measured rates.
    folded = spkeras.conversion.fold_model(model)
    relu = next(layer for layer in folded.layers if isinstance(layer, keras.layers.ReLU))
    errors = []
    for snn in (plain, tuned):
        layer = snn.get_layer(neuron.name)
        (target,) = rates.ann_target_rates(folded, [relu], [layer.threshold.numpy().astype("float64")], x)
        rate = rates.measured_rates(snn, layer, x, 4)[layer.name]
        errors.append(np.abs((target - rate).reshape(-1, 4).mean(axis=0)).mean())
    assert errors[0] > 1e-3 and errors[1] < 0.5 * errors[0], errors
    assert any(getattr(layer, "calibration_weights", None) for layer in piped.layers)
    loaded = spkeras.load_model(spkeras.save_model(tuned, tmp_path / "tuned.keras"))
    np.testing.assert_array_equal(loaded.get_layer(neuron.name).channel_offset.numpy(), offset)
