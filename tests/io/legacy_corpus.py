"""Keras-2-era ``.h5`` model files, written with h5py in the layout and config JSON of each era.

The layout follows Keras 2's ``save_model`` (``keras/engine/saving.py`` 2.2-2.3, ``tensorflow/python/keras/saving/
hdf5_format.py`` in tf.keras): root attributes ``keras_version``, ``backend``, ``model_config``,
``training_config``; ``model_weights`` with ``layer_names`` and, per layer, a group whose ``weight_names`` list
``<layer>/<weight>:0`` datasets. The configs are written as each era's ``get_config`` wrote them (a bare list for a
Keras 2.0/2.1 Sequential, initializers with a ``dtype`` in tf.keras 1.x, an ``InputLayer`` entry in tf.keras 2.x).
The weights are those of a Keras 3 model of the same architecture (``reference``), so a correct load predicts
exactly what ``reference`` predicts.
"""

import json

import h5py
import keras
import numpy as np

# era: keras_version, Sequential as a bare list, functional class name, initializer style, names start at 1
ERAS = {
    "keras-2.0.8": ("2.0.8", True, "Model", "variance", True),
    "keras-2.2.4": ("2.2.4", False, "Model", "variance", True),
    "keras-2.3.1": ("2.3.1", False, "Model", "variance", True),
    "tf.keras-1.15": ("2.2.4-tf", False, "Model", "tf1", False),
    "tf.keras-2.3": ("2.4.0", False, "Functional", "tf2", False),
}


def _initializer(era: str, kind: str) -> dict:
    style = ERAS[era][3]
    if kind == "glorot":
        if style == "variance":
            return {
                "class_name": "VarianceScaling",
                "config": {"scale": 1.0, "mode": "fan_avg", "distribution": "uniform", "seed": None},
            }
        config = {"seed": None, "dtype": "float32"} if style == "tf1" else {"seed": None}
        return {"class_name": "GlorotUniform", "config": config}
    return {"class_name": kind, "config": {"dtype": "float32"} if style == "tf1" else {}}


def _names(era: str) -> dict:
    """Layer names as each era generated them (standalone Keras counted from 1, tf.keras from 0)."""
    one = ERAS[era][4]
    kinds = ("conv2d", "batch_normalization", "max_pooling2d", "flatten", "dropout", "dense", "activation", "add")
    names = {kind: f"{kind}_1" if one else kind for kind in kinds}
    return (
        names
        | {"dense_out": "dense_2" if one else "dense_1", "conv2d_b": "conv2d_2" if one else "conv2d_1"}
        | {"input": "input_1"}
    )


def _layer(era: str, class_name: str, name: str, first_shape=None, **config) -> dict:
    base = {"name": name, "trainable": True}
    if first_shape is not None:
        base["batch_input_shape"] = [None, *first_shape]
    if first_shape is not None or era in ("keras-2.3.1", "tf.keras-1.15", "tf.keras-2.3"):
        base["dtype"] = "float32"
    weights = {
        "use_bias": True,
        "kernel_regularizer": None,
        "bias_regularizer": None,
        "activity_regularizer": None,
        "kernel_constraint": None,
        "bias_constraint": None,
    }
    if class_name in ("Conv2D", "Dense"):
        base |= weights | {
            "kernel_initializer": _initializer(era, "glorot"),
            "bias_initializer": _initializer(era, "Zeros"),
        }
    if class_name == "Conv2D":
        base |= {"strides": [1, 1], "data_format": "channels_last", "dilation_rate": [1, 1]}
    if class_name == "BatchNormalization":
        base |= {
            "axis": [3] if era.startswith("tf") else -1,
            "momentum": 0.99,
            "epsilon": 0.001,
            "center": True,
            "scale": True,
        }
        for key, kind in (("beta", "Zeros"), ("gamma", "Ones"), ("moving_mean", "Zeros"), ("moving_variance", "Ones")):
            base[f"{key}_initializer"] = _initializer(era, kind)
        base |= {"beta_regularizer": None, "gamma_regularizer": None, "beta_constraint": None, "gamma_constraint": None}
    if class_name in ("MaxPooling2D", "Flatten") and era != "keras-2.0.8":
        base["data_format"] = "channels_last"
    return {"class_name": class_name, "config": base | config}


def sequential(era: str, shape=(8, 8, 1), classes: int = 3, randomise: bool = True, hidden: int = 6):
    """(model_config, reference Keras 3 model) of a small CNN as ``era`` saved it."""
    n = _names(era)
    layers = [
        _layer(era, "Conv2D", n["conv2d"], shape, filters=4, kernel_size=[3, 3], padding="same", activation="relu"),
        _layer(era, "BatchNormalization", n["batch_normalization"]),
        _layer(era, "MaxPooling2D", n["max_pooling2d"], pool_size=[2, 2], padding="valid", strides=[2, 2]),
        _layer(era, "Flatten", n["flatten"]),
        _layer(era, "Dropout", n["dropout"], rate=0.25, noise_shape=None, seed=None),
        _layer(era, "Dense", n["dense"], units=hidden, activation="linear"),
        _layer(era, "Activation", n["activation"], activation="relu"),
        _layer(era, "Dense", n["dense_out"], units=classes, activation="softmax"),
    ]
    if era == "tf.keras-2.3":
        layers.insert(
            0,
            {
                "class_name": "InputLayer",
                "config": {
                    "batch_input_shape": [None, *shape],
                    "dtype": "float32",
                    "sparse": False,
                    "ragged": False,
                    "name": f"{n['conv2d']}_input",
                },
            },
        )
    config = layers if ERAS[era][1] else {"name": "sequential_1" if ERAS[era][4] else "sequential", "layers": layers}
    reference = keras.Sequential(
        [
            keras.Input(shape),
            keras.layers.Conv2D(4, 3, padding="same", activation="relu", name=n["conv2d"]),
            keras.layers.BatchNormalization(name=n["batch_normalization"]),
            keras.layers.MaxPooling2D(2, name=n["max_pooling2d"]),
            keras.layers.Flatten(name=n["flatten"]),
            keras.layers.Dropout(0.25, name=n["dropout"]),
            keras.layers.Dense(hidden, name=n["dense"]),
            keras.layers.Activation("relu", name=n["activation"]),
            keras.layers.Dense(classes, activation="softmax", name=n["dense_out"]),
        ]
    )
    return {"class_name": "Sequential", "config": config}, _randomised(reference) if randomise else reference


def functional(era: str, shape=(8, 8, 1), classes: int = 3, randomise: bool = True):
    """(model_config, reference) of a small residual-style functional CNN (two branches added) as ``era`` saved it."""
    n = _names(era)

    def node(*names):
        return [[[name, 0, 0, {}] for name in names]]

    entries = [
        (
            {
                "class_name": "InputLayer",
                "config": {"batch_input_shape": [None, *shape], "dtype": "float32", "sparse": False, "name": n["input"]}
                | ({"ragged": False} if era == "tf.keras-2.3" else {}),
            },
            [],
        ),
        (
            _layer(era, "Conv2D", n["conv2d"], filters=4, kernel_size=[3, 3], padding="same", activation="relu"),
            node(n["input"]),
        ),
        (
            _layer(era, "Conv2D", n["conv2d_b"], filters=4, kernel_size=[1, 1], padding="valid", activation="linear"),
            node(n["input"]),
        ),
        ({"class_name": "Add", "config": {"name": n["add"], "trainable": True}}, node(n["conv2d"], n["conv2d_b"])),
        (_layer(era, "BatchNormalization", n["batch_normalization"]), node(n["add"])),
        (_layer(era, "Flatten", n["flatten"]), node(n["batch_normalization"])),
        (_layer(era, "Dense", n["dense_out"], units=classes, activation="softmax"), node(n["flatten"])),
    ]
    layers = [{"name": entry["config"]["name"], **entry, "inbound_nodes": inbound} for entry, inbound in entries]
    name = "model_1" if ERAS[era][4] else "model"
    config = {
        "name": name,
        "layers": layers,
        "input_layers": [[n["input"], 0, 0]],
        "output_layers": [[n["dense_out"], 0, 0]],
    }
    inputs = keras.Input(shape, name=n["input"])
    a = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name=n["conv2d"])(inputs)
    b = keras.layers.Conv2D(4, 1, name=n["conv2d_b"])(inputs)
    x = keras.layers.BatchNormalization(name=n["batch_normalization"])(keras.layers.Add(name=n["add"])([a, b]))
    outputs = keras.layers.Dense(classes, activation="softmax", name=n["dense_out"])(
        keras.layers.Flatten(name=n["flatten"])(x)
    )
    model = keras.Model(inputs, outputs, name=name)
    return {"class_name": ERAS[era][2], "config": config}, _randomised(model) if randomise else model


def _randomised(model):
    """Seeded weights everywhere, BatchNorm statistics too (so misplaced weights change the outputs)."""
    rng = np.random.default_rng(7)
    for layer in model.layers:
        values = [rng.normal(0.0, 0.5, w.shape).astype("float32") for w in layer.get_weights()]
        if isinstance(layer, keras.layers.BatchNormalization):
            values[-1] = np.abs(values[-1]) + 0.5  # a variance
        layer.set_weights(values)
    return model


def write(path, era: str, model_config: dict, reference, weights_of=None) -> None:
    """Writes ``reference``'s weights and ``model_config`` in ``era``'s HDF5 layout (``weights_of`` overrides)."""
    version = ERAS[era][0]
    weights_of = weights_of or {}
    with h5py.File(path, "w") as handle:
        tf_keras = era.startswith("tf")
        handle.attrs["keras_version"] = version if tf_keras else version.encode("utf8")
        handle.attrs["backend"] = "tensorflow" if tf_keras else b"tensorflow"
        handle.attrs["model_config"] = json.dumps(model_config).encode("utf8")
        training = {
            "optimizer_config": {"class_name": "Adam", "config": {"lr": 0.001}},
            "loss": "categorical_crossentropy",
            "metrics": ["accuracy"],
            "sample_weight_mode": None,
            "loss_weights": None,
        }
        handle.attrs["training_config"] = json.dumps(training).encode("utf8")
        group = handle.create_group("model_weights")
        layers = reference.layers  # a Sequential's without its input, a functional model's with them (as Keras 2)
        group.attrs["layer_names"] = np.array([layer.name.encode("utf8") for layer in layers])
        group.attrs["backend"] = b"tensorflow"
        group.attrs["keras_version"] = version.encode("utf8")
        for layer in layers:
            layer_group = group.create_group(layer.name)
            stored = weights_of.get(layer.name, [(w.name, w.numpy()) for w in layer.weights])
            names = [f"{layer.name}/{name}:0".encode() for name, _ in stored]
            layer_group.attrs["weight_names"] = np.array(names, dtype="S") if names else np.array([], dtype="S1")
            for name, (_, value) in zip(names, stored):
                layer_group.create_dataset(name.decode("utf8"), data=value)
