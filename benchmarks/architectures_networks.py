"""The networks of benchmarks/architectures.py: keras.applications models with random weights (and data-set
batch norms), and the small MobileNet-style CIFAR-10 net of ``--trained`` with its cached training; not a script."""

from __future__ import annotations

import time
import warnings

import numpy as np
from common import write_json

SEED = 0
TRAINED_EPOCHS = 30


def build(name: str, seed: int = 0):
    """The keras.applications model ``name`` with random weights for 32×32×3 inputs and 10 classes."""
    import keras

    keras.utils.set_random_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # input-size notices for weights that are not loaded
        return getattr(keras.applications, name)(weights=None, input_shape=(32, 32, 3), classes=10)


def batchnorm_from_data(model, x) -> None:
    """Sets every BatchNormalization's moving statistics to its input's batch statistics on ``x``."""
    import keras

    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    momenta = [layer.momentum for layer in norms]
    for layer in norms:
        layer.momentum = 0.0
    model(x, training=True)
    for layer, momentum in zip(norms, momenta):
        layer.momentum = momentum


def mobilenet_style():
    """The small MobileNet-style CIFAR-10 net of ``--trained`` (untrained)."""
    import keras

    layers = keras.layers
    augmentation = keras.Sequential(
        [layers.RandomFlip("horizontal", seed=SEED), layers.RandomTranslation(0.1, 0.1, seed=SEED)],
        name="augmentation",
    )

    def conv_bn(x, filters, kernel=1, strides=1, relu=True):
        x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        return layers.ReLU(6.0)(x) if relu else x

    def inverted_residual(x, filters, strides, expansion=3):
        inputs = x
        x = conv_bn(x, int(x.shape[-1]) * expansion)
        x = layers.DepthwiseConv2D(3, strides=strides, padding="same", use_bias=False)(x)
        x = layers.ReLU(6.0)(layers.BatchNormalization()(x))
        x = conv_bn(x, filters, relu=False)  # linear bottleneck
        if strides == 1 and int(inputs.shape[-1]) == filters:
            x = layers.Add()([inputs, x])
        return x

    inputs = keras.Input((32, 32, 3))
    x = layers.Rescaling(1.0 / 255)(augmentation(inputs))
    x = conv_bn(x, 32, kernel=3)
    x = inverted_residual(x, 32, 1)
    x = inverted_residual(x, 48, 2)
    x = inverted_residual(x, 48, 1)
    x = inverted_residual(x, 64, 2)
    x = inverted_residual(x, 64, 1)
    x = conv_bn(x, 128)
    x = layers.Dropout(0.2)(layers.GlobalAveragePooling2D()(x))
    return keras.Model(inputs, layers.Dense(10)(x), name="mobilenet_style")


def trained_mobilenet_style(cifar):
    """The trained net (0–255 inputs) and its training record, from the cache if there."""
    import json
    import pathlib

    import keras

    import spkeras

    cache = pathlib.Path(__file__).resolve().parent / "cache"
    path, info_path = cache / "architectures_mobilenet_style.keras", cache / "architectures_mobilenet_style.json"
    if path.is_file() and info_path.is_file():
        return spkeras.load_model(path), json.loads(info_path.read_text())
    keras.utils.set_random_seed(SEED)
    model = mobilenet_style()
    steps = TRAINED_EPOCHS * int(np.ceil(len(cifar["x_train"]) / 64))
    model.compile(
        optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(3e-3, steps, alpha=0.02)),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    started = time.perf_counter()
    model.fit(cifar["x_train"] * 255.0, cifar["y_train"], batch_size=64, epochs=TRAINED_EPOCHS, verbose=2)
    info = {
        "epochs": TRAINED_EPOCHS,
        "batch_size": 64,
        "optimizer": "Adam, cosine decay from 3e-3",
        "train_images": len(cifar["x_train"]),
        "parameters": int(model.count_params()),
        "train_time_s": time.perf_counter() - started,
        "seed": SEED,
    }
    cache.mkdir(parents=True, exist_ok=True)
    spkeras.save_model(model, path)
    write_json(info, info_path)
    return model, info
