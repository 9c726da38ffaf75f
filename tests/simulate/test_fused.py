"""The fused CPU kernel of the neuron step gives TensorFlow's ops' results bit for bit, and falls back cleanly.

The kernel is compiled on first use (about 15 s, cached per machine); where it cannot be built the comparison tests
skip and say why (the fallback tests below still run).
"""

import os
import stat

import keras
import numpy as np
import pytest
import tensorflow as tf

import spkeras
from spkeras.layers import IntegrateAndFire, TernaryIntegrateAndFire
from spkeras.simulate import fused
from spkeras.simulate.simulator import Simulator
from tests.model_zoo import labels_from, tiny_cnn, tiny_inputs
from tests.simulate.test_fast_paths import HalfThresholdFire

TIMESTEPS = 10


@pytest.fixture
def library():
    loaded = fused.load()
    if loaded is None:
        pytest.skip(f"the fused kernel is not available here: {fused.status()}")
    return loaded


def _everything(snn, x, y):
    """All the simulator's measurements of one run, as NumPy arrays."""
    simulator = Simulator(snn, TIMESTEPS)
    seed = tf.constant([0, 0], tf.int64)
    x, y = tf.constant(x), tf.constant(y, tf.int64)
    correct, spikes, events = simulator.run_batch(x, y, seed)
    output, emitted = simulator.mean_values(x, seed)
    arrays = [correct, spikes, events, output, *emitted, *simulator.spike_trains(x, seed)]
    return simulator.neuron_kernel, [np.asarray(array) for array in arrays]


@pytest.mark.parametrize(
    "options",
    [
        {"method": "ecc"},
        {"method": "robust", "percentile": 99, "spike_value": "threshold"},
        {"method": "robust", "percentile": 99, "reset": "hard"},
        {"method": "robust", "percentile": 99, "reset": "hard", "spike_value": "threshold"},
        {"method": "channelwise", "v_init": 0.5},
        {"method": "ecc", "calibrate": "light"},
        {"method": "ecc", "calibrate": "advanced", "spike_value": "threshold"},
    ],
    ids=lambda options: "-".join(f"{key}={value}" for key, value in options.items()),
)
def test_fused_kernel_equals_tensorflow_ops(library, monkeypatch, options):
    model = tiny_cnn()
    x = tiny_inputs(20, seed=4)
    y = labels_from(model, x)
    snn = spkeras.convert(model, x, timesteps=TIMESTEPS, **options)
    kernel, fused_results = _everything(snn, x, y)
    assert kernel == "fused kernel"
    assert fused_results[1].sum() > 0  # the network spikes
    monkeypatch.setenv(fused.SWITCH_VARIABLE, "0")
    kernel, reference = _everything(snn, x, y)
    assert kernel.startswith("TensorFlow ops: turned off")
    for fused_value, reference_value in zip(fused_results, reference, strict=True):
        np.testing.assert_array_equal(fused_value, reference_value)


@pytest.mark.parametrize("threshold", [0.7, [0.5, 1.0, 0.25]], ids=["layer", "channel"])
@pytest.mark.parametrize("reset", ["soft", "hard"])
@pytest.mark.parametrize("spike_value", ["unit", "threshold"])
def test_one_step_equals_the_layer_step_on_edge_values(library, threshold, reset, spike_value):
    layer = IntegrateAndFire(threshold=threshold, reset=reset, spike_value=spike_value)
    shape = (5, 7, 3)  # 105 neurons: a scalar threshold leaves a tail after the blocks of 64
    layer.build((None,) + shape[1:])
    rng = np.random.default_rng(0)
    potential = rng.normal(0.3, 1.0, shape).astype("float32")
    current = rng.normal(0.2, 1.0, shape).astype("float32")
    theta = np.broadcast_to(np.asarray(threshold, "float32"), shape)
    potential.flat[:4] = [0.0, -0.0, 1e-30, 3.0]
    current.flat[:4] = theta.flat[:4]  # exactly at the threshold
    current.flat[4] = theta.flat[4] - potential.flat[4]
    output, (new_potential,), count = fused.fused_step(library, layer)(tf.constant(current), (tf.constant(potential),))
    expected_output, (expected_potential,), spikes = layer.step(tf.constant(current), (tf.constant(potential),))
    np.testing.assert_array_equal(output.numpy(), expected_output.numpy())
    np.testing.assert_array_equal(new_potential.numpy(), expected_potential.numpy())
    assert count.numpy() == spikes.numpy().sum() > 0


def test_kernel_refuses_mismatched_shapes(library):
    with pytest.raises(tf.errors.InvalidArgumentError, match="same shape"):
        library.spkeras_integrate_and_fire_step(
            tf.zeros((2, 3)), tf.zeros((2, 4)), tf.constant(1.0), soft_reset=True, emit_threshold=False
        )
    with pytest.raises(tf.errors.InvalidArgumentError, match="one value per channel"):
        library.spkeras_integrate_and_fire_step(
            tf.zeros((2, 3)), tf.zeros((2, 3)), tf.ones(2), soft_reset=True, emit_threshold=False
        )


def test_only_the_stock_neuron_is_fused():
    assert fused.supports(IntegrateAndFire(threshold=1.0))
    assert not fused.supports(HalfThresholdFire(threshold=1.0))  # overrides `fire`
    assert not fused.supports(TernaryIntegrateAndFire(threshold=1.0))
    assert not fused.supports(IntegrateAndFire(threshold=1.0, dtype="float64"))
    assert not fused.supports(keras.layers.ReLU())


def test_switch_and_xla_use_tensorflow_ops(monkeypatch):
    assert (
        fused.status(jit_compile=True)
        == "TensorFlow ops: jit_compile=True (XLA compiles TensorFlow's ops, not custom ones)"
    )
    assert fused.load(jit_compile=True) is None
    monkeypatch.setenv(fused.SWITCH_VARIABLE, "off")
    assert fused.status() == "TensorFlow ops: turned off by SPKERAS_FUSED_KERNEL=off"
    assert fused.load() is None


def test_missing_compiler_falls_back_to_tensorflow_ops(monkeypatch, tmp_path):
    monkeypatch.setattr(fused, "_LOADED", {})
    monkeypatch.setenv(fused.CACHE_VARIABLE, str(tmp_path))
    monkeypatch.delenv(fused.SWITCH_VARIABLE, raising=False)
    monkeypatch.setattr(fused, "compiler", lambda: None)
    if not fused.status().startswith("TensorFlow ops: the fused kernel is built on Linux only"):
        assert fused.load() is None
        assert fused.status() == "TensorFlow ops: no C++ compiler found (set $CXX, or install g++)"


def _fake_compiler(directory, exit_code=0):
    """A 'compiler' that writes its -o file and logs each call (or fails with a message)."""
    script = directory / "fake-c++"
    script.write_text(
        "#!/bin/sh\n"
        f'echo call >> "{directory}/calls"\n'
        f'if [ {exit_code} -ne 0 ]; then echo "error: no such header" >&2; exit {exit_code}; fi\n'
        'while [ "$1" != "-o" ]; do shift; done\n'
        'echo library > "$2"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def test_build_is_cached_and_written_whole(monkeypatch, tmp_path):
    cache = tmp_path / "cache"
    monkeypatch.setenv(fused.CACHE_VARIABLE, str(cache))
    compiler = _fake_compiler(tmp_path)
    first = fused.build(compiler)
    assert first.parent == cache and first.read_text() == "library\n"
    assert fused.build(compiler) == first
    assert (tmp_path / "calls").read_text().count("call") == 1  # the second build reused the cached file
    assert os.listdir(cache) == [first.name]  # no temporary file left


def test_failed_build_raises_with_the_compiler_message_and_leaves_nothing(monkeypatch, tmp_path):
    cache = tmp_path / "cache"
    monkeypatch.setenv(fused.CACHE_VARIABLE, str(cache))
    with pytest.raises(RuntimeError, match="integrate_and_fire.cc failed: error: no such header"):
        fused.build(_fake_compiler(tmp_path, exit_code=1))
    assert os.listdir(cache) == []
