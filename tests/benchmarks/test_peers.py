"""Smoke tests of benchmarks/peers.py: the weight-for-weight PyTorch port of the reference networks (skipped
without torch) and the clean skip without the optional peers."""

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
def test_port_gives_the_keras_logits(peers, name, rng):
    pytest.importorskip("torch")
    model = _reference(name)
    _randomise_batch_norms(model, rng)
    images = rng.uniform(0, 1, (4,) + tuple(model.inputs[0].shape[1:])).astype("float32")
    port = peers.port_to_torch(model)
    error = peers.verify_port(model, port, images)
    assert error <= peers.PORT_TOLERANCE
    # The check does detect a wrong port: one changed bias in the last layer is caught.
    last = list(port.layers.values())[-1]
    last.bias.data[0] += 1e-3
    with pytest.raises(AssertionError, match="differs"):
        peers.verify_port(model, port, images)


def test_same_padding_matches_tensorflow(peers):
    # TensorFlow pads more at the end: 32 → 16 with a 3×3 kernel and stride 2 pads (0, 1).
    assert peers._same_padding(32, 3, 2) == (0, 1)
    assert peers._same_padding(32, 3, 1) == (1, 1)
    assert peers._same_padding(7, 1, 2) == (0, 0)


def test_spikingjelly_conversion_runs(peers, rng):
    pytest.importorskip("torch")
    pytest.importorskip("spikingjelly.activation_based.ann2snn")
    model = _reference("mnist")
    images = rng.uniform(0, 1, (20, 28, 28, 1)).astype("float32")
    snn = peers.spikingjelly_convert(peers.port_to_torch(model), images, peers.SJ_MODES["max"], batch_size=10)
    side = peers.spikingjelly_side(snn, 4)
    batch = side.prepare(images[:5], np.zeros(5, "int64"))
    assert 0 <= side.run_batch(batch) <= 5
    assert tuple(peers.spikingjelly_run(snn, batch[0], 4).shape) == (5, 10)


def test_skips_cleanly_without_the_peers(peers, monkeypatch, capsys):
    monkeypatch.setattr(peers, "peers_missing", lambda: "torch is not installed")
    assert peers.main(["--models", "mnist"]) == 0
    assert "skipped: torch is not installed" in capsys.readouterr().out
