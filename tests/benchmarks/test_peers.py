"""Smoke tests of benchmarks/peers.py: the weight-for-weight PyTorch port of the reference networks (peers_port.py;
skipped without torch), the spikingjelly side (peers_measure.py) and the clean skip without the optional peers."""

import importlib.util
import pathlib
import sys

import numpy as np
import pytest

BENCHMARKS = pathlib.Path(__file__).resolve().parents[2] / "benchmarks"


def _load(name):
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def peers():
    return _load("peers")


@pytest.fixture(scope="module")
def port():
    return _load("peers_port")


@pytest.fixture(scope="module")
def measure():
    return _load("peers_measure")


def _randomise_batch_norms(model, rng):
    """Non-trivial BN statistics, so that folding them is actually tested."""
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            size = layer.moving_mean.shape[0]
            layer.moving_mean.assign(rng.normal(0, 0.5, size).astype("float32"))
            layer.moving_variance.assign(rng.uniform(0.5, 2.0, size).astype("float32"))
            layer.gamma.assign(rng.uniform(0.5, 1.5, size).astype("float32"))
            layer.beta.assign(rng.normal(0, 0.2, size).astype("float32"))


def _reference(name):
    builders = {
        "vgg": lambda: _load("methods_comparison").cifar_vgg_small(),
        "resnet": lambda: _load("low_latency").cifar_resnet8(),
        "mnist": lambda: _load("methods_comparison").mnist_cnn(),
    }
    return builders[name]()


@pytest.mark.parametrize("name", ["vgg", "resnet", "mnist"])
def test_port_gives_the_keras_logits(port, name, rng):
    pytest.importorskip("torch")
    model = _reference(name)
    _randomise_batch_norms(model, rng)
    images = rng.uniform(0, 1, (4,) + tuple(model.inputs[0].shape[1:])).astype("float32")
    ported = port.port_to_torch(model)
    error = port.verify_port(model, ported, images)
    assert error <= port.PORT_TOLERANCE
    # The check does detect a wrong port: one changed bias in the last layer is caught.
    last = list(ported.layers.values())[-1]
    last.bias.data[0] += 1e-3
    with pytest.raises(AssertionError, match="differs"):
        port.verify_port(model, ported, images)


def test_same_padding_matches_tensorflow(port):
    # TensorFlow pads more at the end: 32 → 16 with a 3×3 kernel and stride 2 pads (0, 1).
    assert port._same_padding(32, 3, 2) == (0, 1)
    assert port._same_padding(32, 3, 1) == (1, 1)
    assert port._same_padding(7, 1, 2) == (0, 0)


def test_spikingjelly_conversion_runs(port, measure, rng):
    pytest.importorskip("torch")
    pytest.importorskip("spikingjelly.activation_based.ann2snn")
    model = _reference("mnist")
    images = rng.uniform(0, 1, (20, 28, 28, 1)).astype("float32")
    modes = _load("peers_compare").SJ_MODES
    snn = measure.spikingjelly_convert(port.port_to_torch(model), images, modes["max"], batch_size=10)
    side = measure.spikingjelly_side(snn, 4)
    batch = side.prepare(images[:5], np.zeros(5, "int64"))
    assert 0 <= side.run_batch(batch) <= 5
    assert tuple(measure.spikingjelly_run(snn, batch[0], 4).shape) == (5, 10)


def test_skips_cleanly_without_the_peers(peers, monkeypatch, capsys):
    monkeypatch.setattr(peers, "peers_missing", lambda: "torch is not installed")
    assert peers.main(["--models", "mnist"]) == 0
    assert "skipped: torch is not installed" in capsys.readouterr().out


def test_ann_bars_compute_the_ann(port, measure, rng):
    pytest.importorskip("torch")
    model = _reference("mnist")
    _randomise_batch_norms(model, rng)
    images = rng.uniform(0, 1, (6, 28, 28, 1)).astype("float32")
    labels = np.argmax(model.predict(images, verbose=0), -1)
    common = _load("common")
    sides = [
        measure.keras_ann_side(common.compiled_ann(model), 3),
        measure.torch_ann_side(port.port_to_torch(model), 3),
    ]
    for side in sides:
        assert side.run_batch(side.prepare(images, labels)) == 6  # T passes of the ANN itself: its own labels
        assert side.run_batch(side.prepare(images, (labels + 1) % 10)) == 0
