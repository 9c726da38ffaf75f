"""keras.applications architectures (weights=None, 32×32 input) convert and track their ANN; EfficientNet and
ConvNeXt are refused with the list of what blocks them. Slow: run with ``pytest -m slow``."""

import warnings

import keras
import numpy as np
import pytest

import spkeras
from spkeras.conversion import fold_model, layer_report
from spkeras.errors import UnsupportedLayerError
from spkeras.simulate import record

# Minimum correlation of the SNN's mean output current per step with the folded ANN's logits at T = 256 (ecc,
# 4 images); the measured values on CIFAR images are in docs/layers.md (VGG16 0.9997, ResNet50 0.47, ResNet50V2
# 0.57, MobileNet 0.78, MobileNetV2 0.29, DenseNet121 0.73; max pooling spiking). Untrained networks amplify
# small deviations with depth, so deep ones get low bounds; the bounds catch a broken conversion (r near 0), not a
# loss of a few %.
MINIMUM_CORRELATION = {
    "VGG16": 0.9,
    "ResNet50": 0.3,
    "ResNet50V2": 0.4,
    "MobileNet": 0.4,
    "MobileNetV2": 0.1,
    "DenseNet121": 0.5,
}


def _build(name):
    keras.utils.set_random_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # notices about the (not loaded) ImageNet weights' input size
        return getattr(keras.applications, name)(weights=None, input_shape=(32, 32, 3), classes=10)


def _cifar_like(count, seed=0):
    """Smooth random colour images in [0, 1] (low-frequency noise, upsampled)."""
    coarse = np.random.default_rng(seed).uniform(0, 1, (count, 8, 8, 3)).astype("float32")
    return keras.ops.convert_to_numpy(keras.layers.UpSampling2D(4, interpolation="bilinear")(coarse))


def _batchnorm_from_data(model, x):
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    for layer in norms:
        layer.momentum = 0.0
    model(x, training=True)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MINIMUM_CORRELATION))
def test_application_converts_and_tracks_the_ann(name):
    model = _build(name)
    x_calibration, x = _cifar_like(32), _cifar_like(4, seed=1)
    _batchnorm_from_data(model, x_calibration)
    assert all(reason is None for _, _, reason in _report(model)), [r for r in _report(model) if r[2]]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="__array__ implementation", category=DeprecationWarning)
        folded = fold_model(model)
        snn = spkeras.convert(model, x_calibration, method="ecc", timesteps=256)
    logits = folded.predict(x, verbose=0)
    # Nothing is replaced (max pooling stays max pooling): the fold is exact (the folded model ends before softmax;
    # float32 rounding over 27-121 folded layers reaches 1.3e-4 on ResNet50, so 5e-4, not the 1e-5 of the
    # single-layer fold tests; a wrong fold differs by orders of magnitude more).
    probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(logits))
    np.testing.assert_allclose(probabilities, model.predict(x, verbose=0), atol=5e-4)
    output = record(snn, x, timesteps=256)["output"]
    correlation = np.corrcoef(output.ravel(), logits.ravel())[0, 1]
    assert correlation > MINIMUM_CORRELATION[name], correlation


def _report(model):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return layer_report(model)


BLOCKERS = {
    "EfficientNetB0": {
        ("Activation", "silu"),
        ("Conv2D", "silu"),
        ("Conv2D", "sigmoid"),
        ("Multiply", "no converter"),
    },
    "ConvNeXtTiny": {
        ("LayerNormalization", "no converter"),
        ("Activation", "gelu"),
        ("LayerScale", "no converter"),
        ("Add", "raw keras.ops"),
    },
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BLOCKERS))
def test_efficientnet_and_convnext_are_refused_with_what_blocks_them(name):
    model = _build(name)
    refused = {(kind, reason) for _, kind, reason in _report(model) if reason is not None}
    # Each expected blocker occurs, and every refused layer is one of them.
    for kind, part in BLOCKERS[name]:
        assert any(k == kind and part in reason for k, reason in refused), (kind, part, refused)
    assert all(any(k == kind and part in reason for kind, part in BLOCKERS[name]) for k, reason in refused), refused
    # Preprocessing, depthwise (grouped) convs and nested blocks are no longer among them.
    assert not any(kind in ("Rescaling", "Normalization", "DepthwiseConv2D", "Sequential") for kind, _ in refused)
    with pytest.raises(UnsupportedLayerError) as info:
        fold_model(model)
    assert len(info.value.problems) == sum(reason is not None for _, _, reason in _report(model))
