"""Depthwise, separable and 1-D convolutions, preprocessing, inference-inactive, reshaping and nested layers:
exact folds (to 1e-5) and time-stepped SNNs that track the folded ANN."""

import warnings

import keras
import numpy as np
import pytest

import spkeras
from spkeras import network
from spkeras.conversion import fold_model, layer_report
from spkeras.conversion.converters.inactive import INACTIVE_AT_INFERENCE
from spkeras.errors import UnsupportedLayerError
from spkeras.simulate import record
from tests.conversion.coverage_models import (
    functional,
    images,
    inverted_residual_net,
    randomise_batchnorm,
    tutorial_classifier,
)

L = keras.layers


def _numpy(tensor):
    return keras.ops.convert_to_numpy(tensor)


def _assert_folds_exactly(model, x, atol=1e-5):
    folded = fold_model(model)
    expected = _numpy(model(x, training=False))
    if model.layers[-1].get_config().get("activation") == "softmax":  # the fold drops the output softmax
        np.testing.assert_allclose(_numpy(keras.ops.softmax(folded(x))), expected, atol=atol)
    else:
        np.testing.assert_allclose(_numpy(folded(x)), expected, atol=atol, rtol=1e-5)
    return folded


def _types(model):
    return [type(layer).__name__ for layer in model.layers]


def _assert_tracks(model, x, method="robust", tolerance=0.03, **options):
    """The SNN's mean output current per step at T=256 is within ``tolerance`` (relative) of the folded logits."""
    logits = fold_model(model).predict(x, verbose=0)
    snn = spkeras.convert(model, x, method=method, **options)
    errors = [np.abs(record(snn, x, timesteps=t)["output"] - logits).mean() for t in (16, 256)]
    scale = np.abs(logits).mean()
    assert errors[1] < errors[0], errors
    assert errors[1] < tolerance * scale + 1e-4, (errors, scale)
    return snn


# --- depthwise and separable convolutions -----------------------------------------------------------------------


@pytest.mark.parametrize("use_bias", [False, True])
@pytest.mark.parametrize("multiplier", [1, 2])
def test_batchnorm_folds_into_depthwise_conv_exactly(use_bias, multiplier):
    keras.utils.set_random_seed(0)
    model = functional(
        (8, 8, 3),
        L.DepthwiseConv2D(3, depth_multiplier=multiplier, strides=2, padding="same", use_bias=use_bias),
        L.BatchNormalization(epsilon=0.01),
        L.ReLU(6.0),
        L.Flatten(),
        L.Dense(4),
    )
    randomise_batchnorm(model)
    folded = _assert_folds_exactly(model, images(6, (8, 8, 3)))
    assert _types(folded) == ["InputLayer", "DepthwiseConv2D", "ReLU", "Flatten", "Dense"]
    assert tuple(folded.layers[1].kernel.shape) == (3, 3, 3, multiplier)


@pytest.mark.parametrize("use_bias", [False, True])
def test_batchnorm_folds_into_separable_conv_exactly(use_bias):
    keras.utils.set_random_seed(1)
    model = functional(
        (8, 8, 3),
        L.SeparableConv2D(5, 3, depth_multiplier=2, padding="same", dilation_rate=2, use_bias=use_bias),
        L.BatchNormalization(),
        L.Activation("relu"),
        L.GlobalAveragePooling2D(),
        L.Dense(3),
    )
    randomise_batchnorm(model)
    folded = _assert_folds_exactly(model, images(6, (8, 8, 3)))
    # Keras's own computation: the depthwise step, then a 1×1 pointwise conv carrying the (folded) bias.
    assert _types(folded)[1:4] == ["DepthwiseConv2D", "Conv2D", "ReLU"]


def test_grouped_conv_with_one_group_per_channel_is_a_depthwise_conv():
    keras.utils.set_random_seed(2)
    model = functional((6, 6, 4), L.Conv2D(8, 3, groups=4, padding="same"), L.ReLU(), L.Flatten(), L.Dense(3))
    folded = _assert_folds_exactly(model, images(4, (6, 6, 4)))
    assert _types(folded)[1] == "DepthwiseConv2D"
    refused = functional((6, 6, 4), L.Conv2D(4, 3, groups=2, name="grouped"), L.Flatten(), L.Dense(3))
    with pytest.raises(UnsupportedLayerError, match="'grouped'.*groups=2 for 4 input channels.*Split"):
        fold_model(refused)


def test_depthwise_and_separable_snn_tracks_the_ann_with_per_channel_thresholds():
    keras.utils.set_random_seed(3)
    model = functional(
        (10, 10, 3),
        L.Conv2D(6, 3, use_bias=False),
        L.BatchNormalization(),
        L.ReLU(),
        L.DepthwiseConv2D(3, depth_multiplier=2, use_bias=False),
        L.BatchNormalization(),
        L.ReLU(6.0),
        L.SeparableConv2D(6, 3, activation="relu"),
        L.Flatten(),
        L.Dense(4),
    )
    randomise_batchnorm(model)
    x = images(24, (10, 10, 3))
    # channelwise with unit spikes: per-channel λ divide the depthwise kernel per output channel c·M + m.
    snn = _assert_tracks(model, x, method="channelwise", spike_value="unit", calibration_timesteps=16, tolerance=0.08)
    _assert_tracks(model, x, method="ecc")  # spike_value="unit": weights rescaled per layer
    assert "DepthwiseConv2D" in _types(snn)


# --- Conv1D and 1-D pooling ---------------------------------------------------------------------------------------


def test_conv1d_with_1d_pooling_folds_and_tracks_the_ann():
    keras.utils.set_random_seed(4)
    model = functional(
        (32, 2),
        L.Conv1D(6, 5, padding="causal", use_bias=False),
        L.BatchNormalization(),
        L.ReLU(),
        L.AveragePooling1D(2),
        L.ZeroPadding1D(1),
        L.Conv1D(8, 3, activation="relu"),
        L.Cropping1D((1, 1)),
        L.UpSampling1D(2),
        L.GlobalAveragePooling1D(),
        L.Dense(3),
    )
    randomise_batchnorm(model)
    x = images(24, (32, 2))
    _assert_folds_exactly(model, x)
    snn = _assert_tracks(model, x)
    assert "Conv1D" in _types(snn) and "GlobalAveragePooling1D" in _types(snn)


def test_max_pooling_1d_follows_the_max_pooling_policy():
    model = functional((8, 2), L.Conv1D(3, 3, activation="relu"), L.MaxPooling1D(2, name="pool1d"), L.Flatten())
    with pytest.warns(UserWarning, match="MaxPooling1D layer 'pool1d' is replaced by AveragePooling1D"):
        # pytest.warns re-emits unmatched warnings without their module (see test_registry.py): NumPy 2's notice
        # from keras.ops.convert_to_numpy on TensorFlow variables is not spkeras's.
        warnings.filterwarnings("ignore", message="__array__ implementation", category=DeprecationWarning)
        folded = fold_model(model, max_pooling="average")
    assert "AveragePooling1D" in _types(folded)
    with pytest.raises(UnsupportedLayerError, match="'pool1d'.*max_pooling='error'"):
        fold_model(model, max_pooling="error")


def test_one_wide_max_pooling_is_exact_subsampling_without_a_warning():
    # ResNet50V2's strided shortcut: MaxPooling2D(1, strides=2) picks every other value.
    model = functional((8, 8, 2), L.MaxPooling2D(1, strides=2), L.Flatten(), L.Dense(2))
    folded = _assert_folds_exactly(model, images(3, (8, 8, 2)), atol=1e-6)
    assert "AveragePooling2D" in _types(folded)


# --- MobileNet-style blocks: ReLU6 and the linear bottleneck -----------------------------------------------------


def test_inverted_residual_with_linear_bottleneck_tracks_the_ann():
    model = inverted_residual_net()
    x = images(32, high=255.0)
    folded = _assert_folds_exactly(model, x, atol=1e-5)
    snn = _assert_tracks(model, x, tolerance=0.03)
    # The projection (conv + folded BN, no activation) is not followed by a spiking layer: its current feeds
    # the Add and the next expansion conv directly, every step.
    at = {layer.name: layer for layer in snn.layers}
    assert isinstance(at["project"], L.Conv2D)
    readers = [layer for layer in snn.layers if at["project"].output in keras.tree.flatten(layer.input)]
    assert [type(layer).__name__ for layer in readers] == ["Add"]
    assert sum(isinstance(layer, spkeras.layers.IntegrateAndFire) for layer in snn.layers) == 4
    assert "ChannelAffine" not in _types(folded)  # Rescaling folded into the first conv


# --- preprocessing inside the model --------------------------------------------------------------------------------


def _normalization(mean, variance, invert=False):
    return L.Normalization(mean=mean, variance=variance, invert=invert)


@pytest.mark.parametrize(
    "make_preprocessing",
    [
        lambda: [L.Rescaling(1 / 255.0)],
        lambda: [L.Rescaling(2.0, offset=-1.0)],
        lambda: [L.Rescaling([0.5, 2.0, 1.0], offset=[0.1, 0.0, -0.2])],
        lambda: [_normalization([0.5, 0.2, 0.1], [0.04, 0.25, 1.0])],
        lambda: [L.Rescaling(1 / 255.0), _normalization([0.5, 0.4, 0.3], [0.1, 0.2, 0.3])],
        lambda: [_normalization([0.5, 0.2, 0.1], [0.04, 0.25, 1.0], invert=True)],
    ],
    ids=["rescale", "rescale_offset", "per_channel", "normalization", "rescale_then_normalize", "inverted"],
)
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_preprocessing_folds_into_the_first_conv_exactly(make_preprocessing, padding):
    keras.utils.set_random_seed(5)
    model = functional(
        (8, 8, 3), *make_preprocessing(), L.Conv2D(4, 3, padding=padding, activation="relu"), L.Flatten(), L.Dense(3)
    )
    x = images(5, (8, 8, 3), high=255.0)
    folded = _assert_folds_exactly(model, x, atol=1e-5 * 255)
    offsets = any(np.any(_offset(layer) != 0) for layer in model.layers[1:-3])
    if padding == "same" and offsets:
        # Zero padding of a shifted image is not the shift of a zero-padded one: the map stays, applied once.
        assert _types(folded)[:3] == ["InputLayer", "ChannelAffine", "Conv2D"]
    else:
        assert _types(folded)[:3] == ["InputLayer", "Conv2D", "ReLU"]


def _offset(layer):
    if isinstance(layer, L.Rescaling):
        return np.asarray(layer.offset, dtype="float64")
    return _numpy(layer.mean)


def test_preprocessing_before_padding_stays_an_affine_map_of_the_input():
    keras.utils.set_random_seed(6)
    model = functional(
        (8, 8, 3), L.Rescaling(1 / 127.5, offset=-1.0), L.ZeroPadding2D(1), L.Conv2D(4, 3, activation="relu")
    )
    model = keras.Model(model.inputs[0], L.Dense(2)(L.Flatten()(model.outputs[0])))
    x = images(20, (8, 8, 3), high=255.0)
    folded = _assert_folds_exactly(model, x, atol=1e-4)
    assert _types(folded)[1] == "ChannelAffine"
    _assert_tracks(model, x, method="robust")


def test_per_position_normalization_is_refused():
    layer = L.Normalization(axis=(1, 2), mean=np.zeros((3, 2)), variance=np.ones((3, 2)), name="per_position")
    model = functional((3, 2), layer, L.Flatten(), L.Dense(2))
    with pytest.raises(UnsupportedLayerError, match="'per_position'.*scalar or per-channel"):
        fold_model(model)


# --- inference-inactive layers -------------------------------------------------------------------------------------


def _inactive_instances():
    made = []
    for name in INACTIVE_AT_INFERENCE:
        cls = getattr(L, name, None)
        if cls is None or name in ("SpatialDropout1D", "SpatialDropout3D"):  # other ranks than images
            continue
        if "Dropout" in name:
            made.append(cls(0.3))
        elif name == "GaussianNoise":
            made.append(cls(0.1))
        elif name in ("RandomRotation", "RandomZoom", "RandomContrast", "RandomBrightness", "RandomShear"):
            made.append(cls(0.2))
        elif name in ("RandomTranslation",):
            made.append(cls(0.1, 0.1))
        elif name in ("RandomHue", "RandomSaturation", "RandomSharpness", "RandomColorDegeneration"):
            made.append(cls(0.2))
        elif name == "RandomPosterization":
            made.append(cls(factor=(1, 4), value_range=(0, 1)))
        elif name == "Solarization":
            made.append(cls(0.5))
        else:
            made.append(cls())
    return made


def test_inactive_layers_are_identities_at_inference_and_are_removed():
    x = images(2, (8, 8, 3))
    layers = _inactive_instances()
    assert len(layers) >= 25
    for layer in layers:
        np.testing.assert_allclose(_numpy(layer(x, training=False)), x, atol=1e-6, err_msg=type(layer).__name__)
    keras.utils.set_random_seed(7)
    model = functional((8, 8, 3), *layers, L.Conv2D(3, 3, activation="relu"), L.Flatten(), L.Dense(2))
    assert all(reason is None for _, _, reason in layer_report(model))
    folded = _assert_folds_exactly(model, x)
    assert _types(folded) == ["InputLayer", "Conv2D", "ReLU", "Flatten", "Dense"]


def test_random_crop_is_removed_only_when_it_does_not_crop():
    kept = functional((8, 8, 3), L.RandomCrop(8, 8), L.Flatten(), L.Dense(2))
    assert _types(fold_model(kept)) == ["InputLayer", "Flatten", "Dense"]
    cropping = functional((8, 8, 3), L.RandomCrop(6, 6, name="crop"), L.Flatten(), L.Dense(2))
    with pytest.raises(UnsupportedLayerError, match="'crop'.*resizes and centre-crops.*Cropping2D"):
        fold_model(cropping)


# --- reshaping layers ----------------------------------------------------------------------------------------------


def test_reshaping_layers_fold_and_track_the_ann():
    keras.utils.set_random_seed(8)
    model = functional(
        (8, 8, 2),
        L.Conv2D(4, 3, padding="same", activation="relu"),
        L.Cropping2D(((1, 0), (0, 1))),
        L.UpSampling2D(2, interpolation="bilinear"),
        L.Identity(),
        L.AveragePooling2D(2),
        L.Permute((2, 1, 3)),  # swaps height and width, channels stay last
        L.Reshape((49, 4)),
        L.Conv1D(4, 3, activation="relu"),
        L.Reshape((47 * 4,)),
        L.Dense(3),
    )
    x = images(24, (8, 8, 2))
    folded = _assert_folds_exactly(model, x)
    assert "Identity" not in _types(folded)
    _assert_tracks(model, x, method="ecc")  # per-layer scales through Reshape/Permute
    # Per-channel λ with unit spikes: Permute/Reshape carry the per-channel scales to the next layer's kernel.
    _assert_tracks(model, x, method="channelwise", spike_value="unit", calibration_timesteps=16, tolerance=0.1)


def test_upsampling_with_other_interpolation_is_refused():
    model = functional((4, 4, 2), L.UpSampling2D(2, interpolation="bicubic", name="up"), L.Flatten(), L.Dense(2))
    with pytest.raises(UnsupportedLayerError, match="'up'.*interpolation='bicubic'"):
        fold_model(model)


# --- nested models -------------------------------------------------------------------------------------------------


def test_tutorial_classifier_with_nested_augmentation_converts():
    model = tutorial_classifier()
    x = images(24, (16, 16, 3), high=255.0)
    folded = _assert_folds_exactly(model, x, atol=1e-4)
    assert _types(folded)[:3] == ["InputLayer", "Conv2D", "ReLU"]  # augmentation removed, Rescaling folded
    _assert_tracks(model, x)


def test_models_nested_several_levels_deep_are_flattened():
    keras.utils.set_random_seed(9)
    innermost = keras.Sequential([L.Conv2D(4, 3, padding="same", use_bias=False), L.BatchNormalization()], name="c")
    inner_input = keras.Input((8, 8, 4))
    branch = innermost(L.ReLU()(inner_input))
    middle = keras.Model(inner_input, L.ReLU()(L.Add()([branch, inner_input])), name="residual_block")
    outer = keras.Sequential([L.Conv2D(4, 1, activation="relu"), middle, L.AveragePooling2D(2)], name="stage")
    inputs = keras.Input((8, 8, 3))
    features = outer(inputs)
    model = keras.Model(inputs, L.Dense(3)(L.Flatten()(features)), name="deep_nesting")
    randomise_batchnorm(model)
    x = images(24, (8, 8, 3))
    report = layer_report(model)
    assert [entry[1] for entry in report] == [
        "Conv2D",
        "ReLU",
        "Conv2D",
        "BatchNormalization",
        "Add",
        "ReLU",
        "AveragePooling2D",
        "Flatten",
        "Dense",
    ]
    folded = _assert_folds_exactly(model, x)
    assert not any(isinstance(layer, keras.Model) for layer in folded.layers)
    _assert_tracks(model, x)


def test_a_shared_layer_at_the_output_is_refused():
    inputs = keras.Input((4,))
    shared = L.Dense(4, activation="relu", name="shared")
    with pytest.raises(ValueError, match="produces the output.*shared layer"):
        fold_model(keras.Model(inputs, shared(shared(inputs))))


def test_refusals_inside_nested_models_name_the_inner_layer():
    inner = keras.Sequential([L.Dense(4, activation="tanh", name="inner_tanh")], name="inner")
    model = keras.Sequential([keras.Input((3,)), inner, L.Dense(2)], name="outer")
    with pytest.raises(UnsupportedLayerError, match="'inner_tanh' \\(Dense\\).*tanh"):
        fold_model(model)


def test_raw_keras_ops_are_refused_with_the_layer_to_use():
    inputs = keras.Input((4,))
    hidden = L.Dense(4)(inputs)
    model = keras.Model(inputs, L.Dense(2)(hidden + inputs))
    report = layer_report(model)
    refused = [entry for entry in report if entry[2] is not None]
    assert len(refused) == 1 and "raw keras.ops" in refused[0][2] and "keras.layers.Add" in refused[0][2]


# --- metrics see the new synaptic layers ---------------------------------------------------------------------------


def test_fan_in_of_depthwise_separable_and_1d_convs():
    depthwise = L.DepthwiseConv2D(3, depth_multiplier=2)
    depthwise.build((None, 8, 8, 4))
    separable = L.SeparableConv2D(6, 3, depth_multiplier=2)
    separable.build((None, 8, 8, 4))
    conv1d = L.Conv1D(5, 3)
    conv1d.build((None, 10, 4))
    assert network.fan_in(depthwise) == 9
    assert network.fan_in(separable) == pytest.approx(9 * 4 * 2 / 6 + 4 * 2)
    assert network.fan_in(conv1d) == 12
    assert {network.role_of(layer) for layer in (depthwise, separable, conv1d)} == {"synaptic"}
