import keras
import numpy as np
import pytest

import spkeras
from spkeras.conversion import fold_model
from spkeras.errors import UnsupportedLayerError

INPUT_SHAPE = (8, 8, 3)


def _randomise(model, seed=0):
    """Gives every BN non-trivial statistics (γ of both signs, small variances) and every bias random values."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            channels = layer.moving_mean.shape[0]
            weights = []
            if layer.scale:
                weights.append(rng.uniform(0.3, 2.0, channels) * rng.choice([-1.0, 1.0], channels))
            if layer.center:
                weights.append(rng.uniform(-1.0, 1.0, channels))
            weights += [rng.uniform(-1.0, 1.0, channels), rng.uniform(0.05, 1.0, channels)]
            layer.set_weights(weights)
        elif isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)) and layer.use_bias:
            kernel, bias = layer.get_weights()
            layer.set_weights([kernel, rng.uniform(-0.5, 0.5, bias.shape)])
    return model


def _assemble(layers, functional, input_shape=INPUT_SHAPE):
    if functional:
        inputs = keras.Input(input_shape)
        tensor = inputs
        for layer in layers:
            tensor = layer(tensor)
        return keras.Model(inputs, tensor, name="functional_bn")
    return keras.Sequential([keras.Input(input_shape), *layers], name="sequential_bn")


def _conv_bn_model(functional, use_bias, epsilon, final_activation=None, **bn_options):
    layers = [
        keras.layers.Conv2D(4, 3, use_bias=use_bias, name="conv"),
        keras.layers.BatchNormalization(epsilon=epsilon, name="bn", **bn_options),
        keras.layers.ReLU(name="relu"),
        keras.layers.AveragePooling2D(2, name="pool"),
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(5, activation=final_activation, name="logits"),
    ]
    return _randomise(_assemble(layers, functional))


def _inputs(count=16, shape=INPUT_SHAPE, seed=1):
    return np.random.default_rng(seed).uniform(-1.0, 1.0, (count,) + tuple(shape)).astype("float32")


def _outputs(model, x):
    return keras.ops.convert_to_numpy(model(x, training=False))


def _layer_types(model):
    return [type(layer).__name__ for layer in model.layers]


def _assert_folds_exactly(model, x):
    folded = fold_model(model)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in folded.layers)
    assert "BatchNormalization" not in _layer_types(folded)
    expected = _outputs(model, x)
    np.testing.assert_allclose(_outputs(folded, x), expected, atol=1e-5, rtol=0)
    return folded


@pytest.mark.parametrize("functional", [False, True], ids=["sequential", "functional"])
@pytest.mark.parametrize("use_bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("epsilon", [1e-3, 0.5])
def test_conv_batchnorm_folds_to_the_same_logits(functional, use_bias, epsilon):
    model = _conv_bn_model(functional, use_bias, epsilon)
    folded = _assert_folds_exactly(model, _inputs())
    assert _layer_types(folded) == ["InputLayer", "Conv2D", "ReLU", "AveragePooling2D", "Flatten", "Dense"]
    conv = folded.get_layer("conv")
    assert conv.use_bias  # the folded bias of a bias-free conv lives here
    assert conv.activation is keras.activations.linear


def test_epsilon_of_each_layer_is_used():
    # With small variances, folding with the default epsilon instead of 0.5 would change the logits a lot.
    x = _inputs()
    model = _conv_bn_model(functional=True, use_bias=True, epsilon=0.5)
    other = _conv_bn_model(functional=True, use_bias=True, epsilon=1e-3)
    other.set_weights(model.get_weights())
    assert np.max(np.abs(_outputs(model, x) - _outputs(other, x))) > 1e-2
    np.testing.assert_allclose(_outputs(fold_model(model), x), _outputs(model, x), atol=1e-5, rtol=0)
    np.testing.assert_allclose(_outputs(fold_model(other), x), _outputs(other, x), atol=1e-5, rtol=0)


@pytest.mark.parametrize("bn_options", [dict(center=False), dict(scale=False)], ids=["no_beta", "no_gamma"])
def test_batchnorm_without_center_or_scale_folds(bn_options):
    model = _conv_bn_model(functional=False, use_bias=True, epsilon=0.01, **bn_options)
    _assert_folds_exactly(model, _inputs())


def test_output_softmax_is_dropped_and_logits_kept():
    model = _conv_bn_model(functional=True, use_bias=False, epsilon=0.25, final_activation="softmax")
    x = _inputs()
    folded = fold_model(model)
    assert folded.get_layer("logits").activation is keras.activations.linear
    logits = _outputs(folded, x)
    assert not np.allclose(logits.sum(axis=-1), 1.0)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(keras.ops.softmax(logits)), _outputs(model, x), atol=1e-6)


@pytest.mark.parametrize("functional", [False, True], ids=["sequential", "functional"])
@pytest.mark.parametrize("use_bias", [True, False], ids=["bias", "no_bias"])
def test_dense_batchnorm_folds(functional, use_bias):
    layers = [
        keras.layers.Dense(7, use_bias=use_bias, name="hidden"),
        keras.layers.BatchNormalization(epsilon=0.3, name="bn_dense"),
        keras.layers.ReLU(),
        keras.layers.Dense(6, use_bias=use_bias, name="hidden_2"),
        keras.layers.BatchNormalization(epsilon=1e-3, name="bn_out"),
    ]
    model = _randomise(_assemble(layers, functional, input_shape=(10,)), seed=3)
    folded = _assert_folds_exactly(model, _inputs(shape=(10,)))
    assert _layer_types(folded) == ["InputLayer", "Dense", "ReLU", "Dense"]


def test_two_conv_batchnorm_blocks_fold():
    layers = [
        keras.layers.Conv2D(4, 3, padding="same", use_bias=False),
        keras.layers.BatchNormalization(epsilon=0.1),
        keras.layers.ReLU(),
        keras.layers.Conv2D(3, 3, use_bias=True),
        keras.layers.BatchNormalization(epsilon=2e-3),
        keras.layers.ReLU(),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(4),
    ]
    model = _randomise(_assemble(layers, functional=True), seed=5)
    _assert_folds_exactly(model, _inputs())


def test_folding_and_conversion_leave_the_source_weights_unchanged():
    model = _conv_bn_model(functional=True, use_bias=False, epsilon=0.5, final_activation="softmax")
    before = [np.array(w, copy=True) for w in model.get_weights()]
    x = _inputs(count=8)
    outputs_before = _outputs(model, x)
    fold_model(model)
    snn = spkeras.convert(model, x, method="max", timesteps=8)
    assert snn is not model
    after = model.get_weights()
    assert len(after) == len(before)
    for old, new in zip(before, after, strict=True):
        assert np.array_equal(old, new)
    np.testing.assert_array_equal(_outputs(model, x), outputs_before)
    assert "BatchNormalization" in _layer_types(model)


@pytest.mark.parametrize(
    "make_layers",
    [
        # after a pooling layer
        lambda: [
            keras.layers.Conv2D(4, 3, name="conv"),
            keras.layers.ReLU(),
            keras.layers.AveragePooling2D(2, name="pool"),
            keras.layers.BatchNormalization(name="bn_misplaced"),
            keras.layers.Flatten(),
            keras.layers.Dense(3),
        ],
        # after a ReLU
        lambda: [
            keras.layers.Conv2D(4, 3, name="conv"),
            keras.layers.ReLU(name="relu"),
            keras.layers.BatchNormalization(name="bn_misplaced"),
            keras.layers.Flatten(),
            keras.layers.Dense(3),
        ],
        # after a conv whose ReLU is its activation argument
        lambda: [
            keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
            keras.layers.BatchNormalization(name="bn_misplaced"),
            keras.layers.Flatten(),
            keras.layers.Dense(3),
        ],
        # right after the input
        lambda: [
            keras.layers.BatchNormalization(name="bn_misplaced"),
            keras.layers.Conv2D(4, 3, name="conv"),
            keras.layers.Flatten(),
            keras.layers.Dense(3),
        ],
    ],
    ids=["after_pooling", "after_relu", "after_conv_relu", "after_input"],
)
def test_batchnorm_not_after_conv_or_dense_becomes_a_channel_affine(make_layers):
    import spkeras
    from spkeras.layers import ChannelAffine, IntegrateAndFire
    from spkeras.simulate import record

    model = _randomise(_assemble(make_layers(), functional=False))
    x = np.random.default_rng(3).uniform(0, 1, (16,) + tuple(model.inputs[0].shape[1:])).astype("float32")
    folded = fold_model(model)
    assert "ChannelAffine" in _layer_types(folded) and "BatchNormalization" not in _layer_types(folded)
    np.testing.assert_allclose(folded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)
    # Never dropped: the spiking network keeps it as a per-step affine map and tracks the ANN's logits.
    snn = spkeras.convert(model, x, method="robust", percentile=100)
    assert any(isinstance(layer, ChannelAffine) for layer in snn.layers)
    logits = model.predict(x, verbose=0)
    if any(isinstance(layer, IntegrateAndFire) for layer in snn.layers):
        error = np.abs(record(snn, x, timesteps=512)["output"] - logits).mean()
        assert error < 0.05 * np.abs(logits).mean() + 1e-3
    else:  # no ReLU at all: the "SNN" is the affine network itself
        np.testing.assert_allclose(snn.predict(x, verbose=0), logits, atol=1e-5)


def test_batchnorm_on_a_non_channel_axis_is_refused():
    layers = [
        keras.layers.Conv2D(4, 3, name="conv"),
        keras.layers.BatchNormalization(axis=1, name="bn_axis1"),
        keras.layers.Flatten(),
        keras.layers.Dense(3),
    ]
    model = _assemble(layers, functional=False)
    with pytest.raises(ValueError, match="bn_axis1.*axis") as info:
        fold_model(model)
    assert isinstance(info.value, UnsupportedLayerError)
