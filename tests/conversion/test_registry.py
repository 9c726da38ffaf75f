import warnings

import keras
import numpy as np
import pytest

import spkeras
from spkeras.conversion import fold_model, layer_report, register_converter, registry, supported_layer_names
from spkeras.errors import UnsupportedLayerError


def _sequential(*layers, shape=(8, 8, 3)):
    return keras.Sequential([keras.Input(shape), *layers], name="model_under_test")


def _assert_names_layer(error, name, type_name):
    message = str(error)
    assert f"'{name}'" in message, message
    assert f"({type_name})" in message, message
    # Short: the fix and where the full list is, not 60+ layer names (issue 28 item 4).
    assert "spkeras info MODEL" in message and "docs/layers.md" in message, message
    assert len(message) < 700, message
    assert "RandomZoom" not in message, message


# --- refusals name the layer, its type and the supported layers ------------------------------------------------

UNSUPPORTED = {
    "conv_sigmoid": (
        lambda: _sequential(
            keras.layers.Conv2D(2, 3, activation="sigmoid", name="conv_sig"),
            keras.layers.Flatten(),
            keras.layers.Dense(3),
        ),
        "conv_sig",
        "Conv2D",
        "sigmoid",
    ),
    "dense_tanh": (
        lambda: _sequential(
            keras.layers.Flatten(), keras.layers.Dense(4, activation="tanh", name="dense_tanh"), keras.layers.Dense(3)
        ),
        "dense_tanh",
        "Dense",
        "tanh",
    ),
    "lstm": (
        lambda: _sequential(keras.layers.LSTM(4, name="recurrent"), keras.layers.Dense(3), shape=(5, 3)),
        "recurrent",
        "LSTM",
        "no converter",
    ),
    "conv1d_transpose": (
        lambda: _sequential(
            keras.layers.Conv1DTranspose(4, 2, activation="relu", name="conv_1d_t"),
            keras.layers.Flatten(),
            keras.layers.Dense(3),
            shape=(6, 3),
        ),
        "conv_1d_t",
        "Conv1DTranspose",
        "no converter",
    ),
    "softmax_layer_in_the_middle": (
        lambda: _sequential(
            keras.layers.Flatten(),
            keras.layers.Dense(4),
            keras.layers.Softmax(name="mid_softmax"),
            keras.layers.Dense(3),
        ),
        "mid_softmax",
        "Softmax",
        "last",
    ),
    "softmax_activation_in_the_middle": (
        lambda: _sequential(
            keras.layers.Flatten(),
            keras.layers.Dense(4, activation="softmax", name="dense_softmax"),
            keras.layers.Dense(3),
        ),
        "dense_softmax",
        "Dense",
        "softmax",
    ),
    "activation_layer_elu": (
        lambda: _sequential(
            keras.layers.Flatten(),
            keras.layers.Dense(4),
            keras.layers.Activation("elu", name="act_elu"),
            keras.layers.Dense(3),
        ),
        "act_elu",
        "Activation",
        "elu",
    ),
    "leaky_relu": (
        lambda: _sequential(
            keras.layers.Flatten(),
            keras.layers.Dense(4),
            keras.layers.ReLU(negative_slope=0.1, name="leaky"),
            keras.layers.Dense(3),
        ),
        "leaky",
        "ReLU",
        "negative_slope",
    ),
    "shifted_relu": (
        lambda: _sequential(
            keras.layers.Flatten(),
            keras.layers.Dense(4),
            keras.layers.ReLU(threshold=0.5, name="shifted"),
            keras.layers.Dense(3),
        ),
        "shifted",
        "ReLU",
        "threshold",
    ),
    "leaky_relu_layer": (
        lambda: _sequential(
            keras.layers.Flatten(),
            keras.layers.Dense(4),
            keras.layers.LeakyReLU(name="leaky_layer"),
            keras.layers.Dense(3),
        ),
        "leaky_layer",
        "LeakyReLU",
        "this activation has no spiking equivalent",
    ),
}


@pytest.mark.parametrize("case", sorted(UNSUPPORTED))
def test_unsupported_layer_is_refused_with_name_type_and_supported_list(case):
    make_model, name, type_name, reason_part = UNSUPPORTED[case]
    model = make_model()
    with pytest.raises(ValueError) as info:
        fold_model(model)
    error = info.value
    assert isinstance(error, UnsupportedLayerError)
    assert (error.layer_name, error.layer_type) == (name, type_name)
    assert reason_part in error.reason
    _assert_names_layer(error, name, type_name)


def test_convert_refuses_before_calibrating():
    make_model, name, type_name, _ = UNSUPPORTED["conv_sigmoid"]
    # Calibration data of the wrong shape: the layer error must come first.
    with pytest.raises(UnsupportedLayerError) as info:
        spkeras.convert(make_model(), np.zeros((2, 3), "float32"), method="max", timesteps=8)
    _assert_names_layer(info.value, name, type_name)


def test_several_unsupported_layers_give_one_error_listing_each():
    model = _sequential(
        keras.layers.Conv2D(2, 3, activation="sigmoid", name="conv_sig"),
        keras.layers.Flatten(),
        keras.layers.Dense(4, activation="tanh", name="dense_tanh"),
        keras.layers.ReLU(negative_slope=0.2, name="leaky"),
        keras.layers.Dense(3),
    )
    with pytest.raises(UnsupportedLayerError) as info:
        fold_model(model)
    message = str(info.value)
    assert message.startswith("3 layers of model 'model_under_test' cannot be converted")
    lines = [line for line in message.splitlines() if line.startswith("  - ")]
    assert len(lines) == 3, message
    expected = [("conv_sig", "Conv2D"), ("dense_tanh", "Dense"), ("leaky", "ReLU")]
    for line, (name, type_name) in zip(lines, expected):
        assert f"'{name}' ({type_name})" in line
    assert [problem[:2] for problem in info.value.problems] == expected
    assert message.count("Supported layers:") == 1 and "spkeras info" in message.splitlines()[-1]
    assert message.count("prepare_for_conversion") == 1, message  # one fix for the three activations


def test_conv2d_subclass_is_refused():
    class MyConv(keras.layers.Conv2D):
        pass

    model = _sequential(MyConv(2, 3, name="my_conv"), keras.layers.Flatten(), keras.layers.Dense(3))
    with pytest.raises(UnsupportedLayerError) as info:
        fold_model(model)
    _assert_names_layer(info.value, "my_conv", "MyConv")


# --- max pooling ------------------------------------------------------------------------------------------------


def _ignore_tensorflow_array_deprecation():
    # pytest.warns records every warning and re-emits the unmatched ones without their module, which defeats
    # setup.cfg's "ignore::DeprecationWarning:keras.*"; this NumPy 2 notice comes from keras.ops.convert_to_numpy
    # on TensorFlow variables (keras/src/backend/tensorflow/core.py), not from spkeras.
    warnings.filterwarnings("ignore", message="__array__ implementation doesn't accept", category=DeprecationWarning)


def _max_pool_model():
    return _sequential(
        keras.layers.Conv2D(3, 3, activation="relu", name="conv"),
        keras.layers.MaxPooling2D(pool_size=2, strides=2, padding="same", name="max_pool"),
        keras.layers.Flatten(),
        keras.layers.Dense(3),
    )


def test_max_pooling_warns_and_becomes_average_pooling():
    model = _max_pool_model()
    with pytest.warns(UserWarning, match="MaxPooling2D layer 'max_pool' is replaced by AveragePooling2D"):
        _ignore_tensorflow_array_deprecation()
        folded = fold_model(model, max_pooling="average")
    types = [type(layer).__name__ for layer in folded.layers]
    assert "MaxPooling2D" not in types
    pool = folded.layers[types.index("AveragePooling2D")]
    assert (tuple(pool.pool_size), tuple(pool.strides), pool.padding) == ((2, 2), (2, 2), "same")
    # The replacement is average pooling of the same ReLU outputs.
    x = np.random.default_rng(0).uniform(-1, 1, (4, 8, 8, 3)).astype("float32")
    features = keras.ops.relu(model.get_layer("conv")(x))
    pooled = keras.layers.AveragePooling2D(2, 2, "same")(features)
    expected = model.layers[-1](keras.ops.reshape(pooled, (4, -1)))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(folded(x)), keras.ops.convert_to_numpy(expected), atol=1e-5)


def test_max_pooling_is_refused_with_the_error_policy():
    with pytest.raises(UnsupportedLayerError) as info:
        fold_model(_max_pool_model(), max_pooling="error")
    _assert_names_layer(info.value, "max_pool", "MaxPooling2D")
    assert "max_pooling='error'" in str(info.value)


def test_convert_refuses_max_pooling_with_the_error_policy():
    x = np.random.default_rng(0).uniform(0, 1, (4, 8, 8, 3)).astype("float32")
    with pytest.raises(UnsupportedLayerError, match="max_pool"):
        spkeras.convert(_max_pool_model(), x, method="max", timesteps=8, max_pooling="error")
    with pytest.raises(ValueError, match="Received: max_pooling='maximum'"):
        spkeras.convert(_max_pool_model(), x, method="max", timesteps=8, max_pooling="maximum")


# --- register_converter and MRO lookup ---------------------------------------------------------------------------


class _Passthrough(keras.layers.Layer):
    """A small custom test layer (identity)."""

    def call(self, inputs):
        return inputs


class _SubPassthrough(_Passthrough):
    pass


class _Unrelated(keras.layers.Layer):
    def call(self, inputs):
        return inputs


@pytest.fixture
def passthrough_converter():
    """Registers a recording converter for ``_Passthrough`` and removes it afterwards."""
    calls = []

    def convert_passthrough(layer, context):
        calls.append((layer.name, type(layer).__name__, context.is_output))
        return []

    returned = register_converter(_Passthrough)(convert_passthrough)
    assert returned is convert_passthrough
    try:
        yield calls
    finally:
        registry.unregister_converter(_Passthrough)
        if registry.registered_converter(_SubPassthrough) is not None:
            registry.unregister_converter(_SubPassthrough)
    assert "_Passthrough" not in supported_layer_names()


def test_subclass_uses_the_parent_converter(passthrough_converter):
    calls = passthrough_converter
    assert registry.find_converter(_SubPassthrough(name="sub")) is registry.registered_converter(_Passthrough)
    assert registry.registered_converter(_SubPassthrough) is None  # found by MRO lookup, not registered
    assert "_Passthrough" in supported_layer_names()
    model = _sequential(
        keras.layers.Dense(4, activation="relu", name="first"),
        _SubPassthrough(name="sub_pass"),
        keras.layers.Dense(2, name="out"),
        shape=(5,),
    )
    folded = fold_model(model)
    assert ("sub_pass", "_SubPassthrough", False) in calls
    assert [type(layer).__name__ for layer in folded.layers] == ["InputLayer", "Dense", "ReLU", "Dense"]
    x = np.random.default_rng(0).normal(size=(6, 5)).astype("float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(folded(x)), keras.ops.convert_to_numpy(model(x)), atol=1e-6, rtol=0
    )
    assert [entry[2] for entry in layer_report(model)] == [None, None, None]


def test_closer_registration_wins_over_the_parent(passthrough_converter):
    def convert_sub(layer, context):
        return []

    register_converter(_SubPassthrough)(convert_sub)
    assert registry.find_converter(_SubPassthrough()) is convert_sub
    assert registry.find_converter(_Passthrough()) is registry.registered_converter(_Passthrough)


def test_unregistered_custom_layer_is_refused():
    assert registry.registered_converter(_Passthrough) is None
    with pytest.raises(UnsupportedLayerError, match="no converter is registered") as info:
        registry.find_converter(_SubPassthrough(name="lonely"))
    _assert_names_layer(info.value, "lonely", "_SubPassthrough")
    with pytest.raises(UnsupportedLayerError):
        registry.find_converter(_Unrelated(name="unrelated"))
    assert "_Passthrough" not in supported_layer_names()


@pytest.mark.parametrize("bad", [int, "Dense", keras.layers.Dense(2)])
def test_register_converter_expects_layer_classes(bad):
    with pytest.raises(TypeError, match="Received"):
        register_converter(bad)


# --- layer_report -----------------------------------------------------------------------------------------------


def test_layer_report_gives_none_for_supported_and_reasons_otherwise():
    model = _sequential(
        keras.layers.Conv2D(3, 3, activation="relu", name="conv"),
        keras.layers.BatchNormalization(name="bn"),
        keras.layers.AveragePooling2D(2, name="pool"),
        keras.layers.Dropout(0.5, name="drop"),
        keras.layers.Flatten(name="flat"),
        keras.layers.Dense(4, activation="tanh", name="dense_tanh"),
        keras.layers.ReLU(negative_slope=0.3, name="leaky"),
        keras.layers.Dense(3, activation="softmax", name="out"),
    )
    report = layer_report(model)
    assert [(name, type_name) for name, type_name, _ in report] == [
        ("conv", "Conv2D"),
        ("bn", "BatchNormalization"),
        ("pool", "AveragePooling2D"),
        ("drop", "Dropout"),
        ("flat", "Flatten"),
        ("dense_tanh", "Dense"),
        ("leaky", "ReLU"),
        ("out", "Dense"),
    ]
    reasons = {name: reason for name, _, reason in report}
    for name in ("conv", "bn", "pool", "drop", "flat", "out"):
        assert reasons[name] is None, (name, reasons[name])
    assert isinstance(reasons["dense_tanh"], str) and "tanh" in reasons["dense_tanh"]
    assert isinstance(reasons["leaky"], str) and "negative_slope" in reasons["leaky"]


def test_layer_report_for_lstm_and_max_pooling_policy():
    report = layer_report(_sequential(keras.layers.LSTM(3, name="rnn"), keras.layers.Dense(2), shape=(4, 2)))
    assert report[0][:2] == ("rnn", "LSTM")
    assert "no converter" in report[0][2]
    assert report[1][2] is None

    model = _max_pool_model()
    refused = {name: reason for name, _, reason in layer_report(model, max_pooling="error")}
    assert "max_pooling='error'" in refused["max_pool"]
    with pytest.warns(UserWarning, match="max_pool"):
        _ignore_tensorflow_array_deprecation()
        allowed = {name: reason for name, _, reason in layer_report(model, max_pooling="average")}
    assert allowed["max_pool"] is None
    assert {name: reason for name, _, reason in layer_report(model)}["max_pool"] is None  # default: spiking
    assert all(reason is None for name, reason in refused.items() if name != "max_pool")


@pytest.mark.parametrize(
    "case, fix",
    [
        ("conv_sigmoid", "prepare_for_conversion"),
        ("leaky_relu_layer", "prepare_for_conversion"),
        ("lstm", "docs/extending.md"),
    ],
)
def test_refusal_names_the_fix_for_its_kind_of_layer(case, fix):
    make_model = UNSUPPORTED[case][0]
    with pytest.raises(UnsupportedLayerError) as info:
        fold_model(make_model())
    assert fix in info.value.fix and fix in str(info.value)
    assert "\n" not in str(info.value) and len(str(info.value)) < 600, str(info.value)
