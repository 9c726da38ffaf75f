"""Keras-2-era .h5 files (standalone Keras 2.0-2.3, tf.keras 1.x/2.x; Sequential and functional) load with outputs
bit-identical to the same weights in Keras 3; what cannot be translated is refused by layer, never run."""

import base64
import copy
import json
import marshal
import random
import warnings

import h5py
import keras
import numpy as np
import pytest

import spkeras
from spkeras.io.config import read_model_config
from spkeras.io.legacy import translate_model_config
from spkeras.io.legacy_weights import load_legacy_weights
from tests.io import legacy_corpus

X = np.random.default_rng(0).normal(size=(6, 8, 8, 1)).astype("float32")
CASES = [(era, kind) for era in legacy_corpus.ERAS for kind in ("sequential", "functional")]


def _file(tmp_path, era: str, kind: str, **overrides):
    config, reference = getattr(legacy_corpus, kind)(era)
    path = tmp_path / f"{era}-{kind}.h5"
    legacy_corpus.write(path, era, config, reference, **overrides)
    return path, config, reference


@pytest.mark.parametrize("era, kind", CASES)
def test_each_era_loads_with_bit_identical_outputs_and_weights_in_the_right_layers(tmp_path, era, kind):
    path, _, reference = _file(tmp_path, era, kind)
    model = spkeras.load_model(path)
    assert model.inputs[0].shape == (None, 8, 8, 1)  # batch_input_shape: one batch axis, not two
    assert np.array_equal(model.predict(X, verbose=0), reference.predict(X, verbose=0))
    for layer in reference.layers:
        for loaded, original in zip(model.get_layer(layer.name).weights, layer.weights):
            assert np.array_equal(loaded.numpy(), original.numpy()), (layer.name, original.name)


@pytest.mark.parametrize("era, kind", CASES)
def test_the_translation_itself_reads_every_era(tmp_path, era, kind):
    """Also for the files Keras 3 reads by itself: the translator alone gives the same outputs."""
    path, _, reference = _file(tmp_path, era, kind)
    model = translate_model_config(read_model_config(path))
    assert load_legacy_weights(model, path) == reference.count_params()
    assert np.array_equal(model.predict(X, verbose=0), reference.predict(X, verbose=0))


@pytest.mark.parametrize("era", ["keras-2.2.4", "tf.keras-1.15"])
def test_keras_alone_fails_on_these_files(tmp_path, era):
    """The two failures users hit (a second batch axis; initializers with a dtype): why the translation exists."""
    path, _, _ = _file(tmp_path, era, "sequential")
    with pytest.raises(Exception, match="Kernel shape must have the same length|dtype"):
        keras.saving.load_model(path, compile=False)


def test_a_mismatched_weight_shape_is_refused_by_layer_name(tmp_path):
    _, reference = legacy_corpus.sequential("keras-2.2.4")
    kernel, bias = reference.get_layer("dense_1").get_weights()  # (64, 6): stored transposed, same size
    path, _, _ = _file(
        tmp_path, "keras-2.2.4", "sequential", weights_of={"dense_1": [("kernel", kernel.T), ("bias", bias)]}
    )
    with pytest.raises(ValueError) as caught:
        spkeras.load_model(path)
    message = str(caught.value)
    assert "layer 'dense_1' (Dense)" in message and "(6, 64)" in message and "(64, 6)" in message
    assert str(path) in message and "weights only" not in message


def test_a_layer_without_its_weights_is_refused_by_name(tmp_path):
    path, _, _ = _file(tmp_path, "tf.keras-1.15", "sequential", weights_of={"dense": []})
    with pytest.raises(ValueError, match=r"dense.*stores 0 for it|\['dense'\] have weights"):
        spkeras.load_model(path)


def _with_layer(tmp_path, era: str, index: int, entry: dict):
    config, reference = legacy_corpus.sequential(era)
    layers = config["config"] if isinstance(config["config"], list) else config["config"]["layers"]
    layers.insert(index, entry)
    path = tmp_path / "edited.h5"
    legacy_corpus.write(path, era, config, reference)
    return path


@pytest.mark.parametrize("safe_mode", [True, False])
def test_a_lambda_in_an_old_file_is_refused_and_never_run(tmp_path, safe_mode):
    marker = tmp_path / "MARKER"
    touch = lambda x: (__import__("pathlib").Path(str(marker)).write_text("code ran"), x)[1]  # noqa: E731
    code = base64.b64encode(marshal.dumps(touch.__code__)).decode("ascii")
    entry = {
        "class_name": "Lambda",
        "config": {
            "name": "lambda_1",
            "trainable": True,
            "dtype": "float32",
            "function": [code, None, None],
            "function_type": "lambda",
            "module": "__main__",
            "output_shape": None,
            "output_shape_type": "raw",
            "output_shape_module": None,
            "arguments": {},
        },
    }
    path = _with_layer(tmp_path, "tf.keras-1.15", 4, entry)
    with pytest.raises(ValueError) as caught:
        spkeras.load_model(path, safe_mode=safe_mode)
    message = str(caught.value)
    assert "Lambda" in message and str(path) in message and "weights only" not in message
    assert not marker.exists()


@pytest.mark.parametrize(
    "entry, fragment",
    [
        ({"class_name": "Activation", "config": {"name": "hard", "activation": "hard_sigmoid"}}, "'hard_sigmoid'"),
        ({"class_name": "Dropout", "config": {"name": "odd", "rate": 0.1, "novel_flag": 3}}, "'novel_flag'"),
        ({"class_name": "CuDNNLSTM", "config": {"name": "rnn", "units": 2}}, "no layer class 'CuDNNLSTM'"),
        (
            {"class_name": "BatchNormalization", "config": {"name": "bn", "virtual_batch_size": 4}},
            "virtual_batch_size=4",
        ),
    ],
)
def test_what_cannot_be_translated_is_refused_precisely(tmp_path, entry, fragment):
    path = _with_layer(tmp_path, "keras-2.2.4", 4, entry)
    with pytest.raises(ValueError) as caught:
        spkeras.load_model(path)
    message = str(caught.value)
    assert fragment in message and f"layer '{entry['config']['name']}'" in message and "Keras 2.2.4" in message


def test_old_class_and_argument_names_and_an_unknown_initializer(tmp_path):
    config = {
        "class_name": "Sequential",
        "config": [
            {
                "class_name": "Convolution2D",
                "config": {
                    "name": "c",
                    "filters": 2,
                    "kernel_size": [1, 1],
                    "batch_input_shape": [None, 4, 4, 1],
                    "kernel_initializer": {"class_name": "MyInit", "config": {}},
                },
            },
            {"class_name": "LeakyReLU", "config": {"name": "leaky", "alpha": 0.2}},
        ],
    }
    with pytest.warns(UserWarning, match="layer 'c' .*kernel_initializer.*layer default"):
        model = translate_model_config(config)
    assert isinstance(model.get_layer("c"), keras.layers.Conv2D)
    assert model.get_layer("leaky").negative_slope == pytest.approx(0.2)


def test_the_translation_keeps_an_old_file_unchanged(tmp_path):
    path, _, _ = _file(tmp_path, "keras-2.0.8", "sequential")
    before = path.read_bytes()
    spkeras.load_model(path)
    assert path.read_bytes() == before
    with h5py.File(path, "r") as handle:
        assert isinstance(json.loads(handle.attrs["model_config"])["config"], list)


def _write_raw(path, version: bytes, model_config: dict, weights: dict) -> None:
    """A Keras 2 layout from explicit ``{layer: [(weight name, value), ...]}`` (names as Keras 2 wrote them)."""
    with h5py.File(path, "w") as handle:
        handle.attrs["keras_version"], handle.attrs["backend"] = version, b"tensorflow"
        handle.attrs["model_config"] = json.dumps(model_config).encode()
        group = handle.create_group("model_weights")
        group.attrs["layer_names"] = np.array([name.encode() for name in weights], dtype="S")
        for layer, stored in weights.items():
            layer_group = group.create_group(layer)
            layer_group.attrs["weight_names"] = np.array([name.encode() for name, _ in stored] or [b""], dtype="S")[
                : len(stored)
            ]
            for name, value in stored:
                layer_group.create_dataset(name, data=value)


def test_a_dense_first_sequential_gets_one_batch_axis(tmp_path):
    """Keras 3 reads it without an error but with inputs (None, None, 3); spkeras notices and translates."""
    dense = legacy_corpus._layer("keras-2.2.4", "Dense", "dense_1", (3,), units=2, activation="softmax")
    config = {"class_name": "Sequential", "config": {"name": "sequential_1", "layers": [dense]}}
    kernel, bias = np.arange(6, dtype="float32").reshape(3, 2) / 6, np.array([0.5, -0.5], "float32")
    path = tmp_path / "mlp.h5"
    _write_raw(path, b"2.2.4", config, {"dense_1": [("dense_1/kernel:0", kernel), ("dense_1/bias:0", bias)]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras's own advice about the input_shape its loader passes
        assert keras.saving.load_model(path, compile=False).inputs[0].shape == (None, None, 3)  # the silent bug
    model = spkeras.load_model(path)
    assert model.inputs[0].shape == (None, 3)
    reference = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    reference.set_weights([kernel, bias])
    x = X.reshape(-1, 8)[:, :3]
    assert np.array_equal(model.predict(x, verbose=0), reference.predict(x, verbose=0))


def test_a_nested_sequential_in_a_functional_model_gets_its_weights(tmp_path):
    era = "keras-2.2.4"
    inner_dense = legacy_corpus._layer(era, "Dense", "dense_1", (4,), units=3, activation="relu")
    inner = {"class_name": "Sequential", "config": {"name": "sequential_1", "layers": [inner_dense]}}
    layers = [
        {
            "name": "input_1",
            "class_name": "InputLayer",
            "inbound_nodes": [],
            "config": {"batch_input_shape": [None, 4], "dtype": "float32", "sparse": False, "name": "input_1"},
        },
        {"name": "sequential_1", **inner, "inbound_nodes": [[["input_1", 0, 0, {}]]]},
        {
            "name": "dense_2",
            **legacy_corpus._layer(era, "Dense", "dense_2", units=2),
            "inbound_nodes": [[["sequential_1", 1, 0, {}]]],
        },
    ]
    config = {
        "class_name": "Model",
        "config": {
            "name": "model_1",
            "layers": layers,
            "input_layers": [["input_1", 0, 0]],
            "output_layers": [["dense_2", 0, 0]],
        },
    }
    rng = np.random.default_rng(3)
    k1, b1, k2, b2 = (rng.normal(size=shape).astype("float32") for shape in ((4, 3), (3,), (3, 2), (2,)))
    weights = {
        "input_1": [],
        "sequential_1": [("dense_1/kernel:0", k1), ("dense_1/bias:0", b1)],
        "dense_2": [("dense_2/kernel:0", k2), ("dense_2/bias:0", b2)],
    }
    path = tmp_path / "nested.h5"
    _write_raw(path, b"2.2.4", config, weights)
    model = spkeras.load_model(path)
    x = X.reshape(-1, 4)[:5]
    assert np.allclose(model.predict(x, verbose=0), np.maximum(x @ k1 + b1, 0) @ k2 + b2, atol=1e-5)


def test_a_shared_layer_two_inputs_and_two_outputs_are_rebuilt(tmp_path):
    """A Keras 2 functional graph: one Dense called on two inputs (nodes 0 and 1), both results returned."""

    def input_layer(name):
        config = {"batch_input_shape": [None, 3], "dtype": "float32", "sparse": False, "name": name}
        return {"name": name, "class_name": "InputLayer", "config": config, "inbound_nodes": []}

    shared = legacy_corpus._layer("keras-2.2.4", "Dense", "shared", units=2)
    layers = [
        input_layer("a"),
        input_layer("b"),
        {"name": "shared", **shared, "inbound_nodes": [[["a", 0, 0, {}]], [["b", 0, 0, {}]]]},
    ]
    config = {"name": "m", "layers": layers, "input_layers": [["a", 0, 0], ["b", 0, 0]]}
    config["output_layers"] = [["shared", 1, 0], ["shared", 0, 0]]
    model = translate_model_config({"class_name": "Model", "config": config})
    kernel = np.arange(6, dtype="float32").reshape(3, 2)
    model.get_layer("shared").set_weights([kernel, np.zeros(2, "float32")])
    a, b = np.ones((1, 3), "float32"), np.full((1, 3), 2.0, "float32")
    first, second = model.predict([a, b], verbose=0)
    assert np.array_equal(first, b @ kernel) and np.array_equal(second, a @ kernel)
    assert [tuple(tensor.shape) for tensor in model.inputs] == [(None, 3), (None, 3)]


def test_edited_configs_are_refused_with_a_value_error_never_another_exception():
    """120 seeded edits of every era's config (values swapped for junk, keys removed): a model or a ValueError."""
    rng = random.Random(0)
    junk = [None, 0, -1, 10**12, "x", [], {}, [None], {"a": 1}, 3.5, True, [[1]], ["a", 0, 0]]

    def edit(value):
        if isinstance(value, (dict, list)) and value:
            key = rng.choice(list(value)) if isinstance(value, dict) else rng.randrange(len(value))
            if rng.random() < 0.3:
                value[key] = rng.choice(junk)
            elif isinstance(value, dict) and rng.random() < 0.1:
                del value[key]
            else:
                edit(value[key])

    configs = [
        getattr(legacy_corpus, kind)(era)[0] for era in legacy_corpus.ERAS for kind in ("sequential", "functional")
    ]
    outcomes = {"built": 0, "refused": 0}
    for _ in range(120):
        config = copy.deepcopy(rng.choice(configs))
        for _ in range(rng.randint(1, 3)):
            edit(config)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # an unknown initializer is warned about, not refused
            try:
                translate_model_config(config)
                outcomes["built"] += 1
            except ValueError:
                outcomes["refused"] += 1
    assert outcomes["refused"] > 0 and outcomes["built"] > 0, outcomes


def test_a_channels_first_model_computes_what_keras_2_computed():
    """data_format='channels_first' is kept; Flatten then orders values as Keras 2 did (channels last)."""
    layers = [
        {
            "class_name": "Conv2D",
            "config": {
                "name": "c",
                "filters": 2,
                "kernel_size": [3, 3],
                "activation": "relu",
                "data_format": "channels_first",
                "batch_input_shape": [None, 1, 6, 6],
            },
        },
        {"class_name": "MaxPooling2D", "config": {"name": "p", "pool_size": [2, 2], "data_format": "channels_first"}},
        {"class_name": "Flatten", "config": {"name": "f", "data_format": "channels_first"}},
        {"class_name": "Dense", "config": {"name": "d", "units": 3}},
    ]
    model = translate_model_config({"class_name": "Sequential", "config": layers})
    reference = keras.Sequential(
        [
            keras.Input((6, 6, 1)),
            keras.layers.Conv2D(2, 3, activation="relu", name="c"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(3, name="d"),
        ]
    )
    for name in ("c", "d"):
        reference.get_layer(name).set_weights(model.get_layer(name).get_weights())
    x = X[:2, :6, :6, :]  # (2, 6, 6, 1)
    expected = reference.predict(x, verbose=0)
    assert np.allclose(model.predict(x.transpose(0, 3, 1, 2), verbose=0), expected, atol=1e-6)
