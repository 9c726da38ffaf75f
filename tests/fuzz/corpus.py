"""The seed corpus: the bundled demo model and tiny models, as ``.h5`` and ``.keras`` files, plus ``.npz`` data.

Built once per folder (a worker process builds it; the files are deterministic for a given Keras version).
"""

from __future__ import annotations

import json
import pathlib

#: name -> input shape of each corpus model (the demo model is 28×28×1).
MODEL_INPUTS = {
    "demo": (28, 28, 1),
    "dense": (6,),
    "conv_bn": (8, 8, 1),
    "residual": (8, 8, 2),
    "maxpool_seq": (8, 8, 1),
    "conv1d": (10, 2),
}
SUFFIXES = (".h5", ".keras")
MANIFEST = "corpus.json"


def _tiny_models():
    import keras

    models = {}
    inputs = keras.Input((6,), name="features")
    hidden = keras.layers.Dense(5, activation="relu", name="hidden")(inputs)
    models["dense"] = keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="logits")(hidden))

    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(4, 3, padding="same", use_bias=False, name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.ReLU(name="relu")(x)
    x = keras.layers.AveragePooling2D(2, name="pool")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    models["conv_bn"] = keras.Model(inputs, keras.layers.Dense(4, name="head")(x), name="conv_bn")

    inputs = keras.Input((8, 8, 2))
    x = keras.layers.Conv2D(3, 3, padding="same", activation="relu", name="stem")(inputs)
    y = keras.layers.Conv2D(3, 3, padding="same", name="branch")(x)
    y = keras.layers.BatchNormalization(name="branch_bn")(y)
    x = keras.layers.Add(name="add")([x, y])
    x = keras.layers.Activation("relu", name="add_relu")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    models["residual"] = keras.Model(inputs, keras.layers.Dense(2, name="out")(x), name="residual")

    models["maxpool_seq"] = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(2, 3, strides=2, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Dropout(0.2),
            keras.layers.Flatten(),
            keras.layers.Dense(3, activation="softmax"),
        ],
        name="maxpool_seq",
    )

    inputs = keras.Input((10, 2))
    x = keras.layers.Conv1D(3, 3, activation="relu", name="c1")(inputs)
    x = keras.layers.GlobalAveragePooling1D(name="g1")(x)
    models["conv1d"] = keras.Model(inputs, keras.layers.Dense(2, name="d1")(x), name="conv1d")
    return models


def build_corpus(folder) -> dict:
    """Writes the corpus into ``folder`` (once) and returns its manifest: model files, data files, input shapes."""
    folder = pathlib.Path(folder)
    manifest_path = folder / MANIFEST
    if manifest_path.exists():
        return json.loads(manifest_path.read_text())
    folder.mkdir(parents=True, exist_ok=True)
    import keras
    import numpy as np

    import spkeras

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    models = _tiny_models()
    for model in models.values():  # non-trivial BN statistics, so folding is exercised
        for layer in model.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.moving_mean.assign(rng.normal(0, 0.3, layer.moving_mean.shape))
                layer.moving_variance.assign(rng.uniform(0.5, 2.0, layer.moving_variance.shape))
    models["demo"] = spkeras.load_model(spkeras.demo.DEMO_MODEL_PATH)
    files, data = {}, {}
    for name, model in models.items():
        for suffix in SUFFIXES:
            path = folder / f"{name}{suffix}"
            model.save(path)
            files[f"{name}{suffix}"] = str(path)
        shape = MODEL_INPUTS[name]
        classes = int(model.outputs[0].shape[-1])
        x = rng.uniform(0, 1, (6,) + shape).astype("float32")
        y = rng.integers(0, classes, 6)
        np.savez(folder / f"{name}.npz", x=x, y=y)
        data[name] = str(folder / f"{name}.npz")
    sample = spkeras.demo.load_sample()
    np.savez(folder / "demo.npz", x=sample["x_test"][:20], y=sample["y_test"][:20])
    # Converted spiking models (for evaluate cases), one per corpus network.
    snn_files = {}
    for name, model in models.items():
        x = np.load(data[name])["x"]
        snn = spkeras.convert(model, x, timesteps=8)
        path = folder / f"{name}_snn.keras"
        spkeras.save_model(snn, path)
        snn_files[name] = str(path)
    manifest = {
        "files": files,
        "data": data,
        "snn": snn_files,
        "inputs": {name: list(shape) for name, shape in MODEL_INPUTS.items()},
        "classes": {name: int(model.outputs[0].shape[-1]) for name, model in models.items()},
    }
    manifest_path.write_text(json.dumps(manifest, indent=2))
    return manifest
