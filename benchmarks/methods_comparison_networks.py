"""The two reference networks of benchmarks/methods_comparison.py (an MNIST CNN and a small CIFAR-10 VGG), their
seeded training and the cache in benchmarks/cache/ that the other benchmarks share; not a script."""

from __future__ import annotations

import json
import math
import pathlib
import sys
import time

import keras
import tensorflow as tf
from common import write_json

import spkeras

CACHE = pathlib.Path(__file__).resolve().parent / "cache"
SEED = 1234
CALIBRATION_IMAGES = 1000
CIFAR_EPOCHS = 40
MNIST_EPOCHS = 3


def mnist_cnn() -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(16, 3),
            keras.layers.BatchNormalization(),
            keras.layers.ReLU(),
            keras.layers.AveragePooling2D(2),
            keras.layers.Conv2D(32, 3),
            keras.layers.BatchNormalization(),
            keras.layers.ReLU(),
            keras.layers.AveragePooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(10),
        ],
        name="mnist_cnn",
    )


def cifar_vgg_small() -> keras.Model:
    def block(filters):
        return [keras.layers.Conv2D(filters, 3, padding="same"), keras.layers.BatchNormalization(), keras.layers.ReLU()]

    return keras.Sequential(
        [keras.Input((32, 32, 3))]
        + block(32)
        + block(32)
        + [keras.layers.AveragePooling2D(2), keras.layers.Dropout(0.1)]
        + block(64)
        + block(64)
        + [
            keras.layers.AveragePooling2D(2),
            keras.layers.Dropout(0.2),
            keras.layers.Flatten(),
            keras.layers.Dense(128),
            keras.layers.ReLU(),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(10),
        ],
        name="cifar_vgg_small",
    )


def train_mnist(data) -> tuple[keras.Model, dict]:
    keras.utils.set_random_seed(SEED)
    model = mnist_cnn()
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(data["x_train"], data["y_train"], batch_size=128, epochs=MNIST_EPOCHS, verbose=2)
    return model, {"epochs": MNIST_EPOCHS, "batch_size": 128, "optimizer": "Adam(1e-3)", "train_images": 60000}


def train_cifar(data) -> tuple[keras.Model, dict]:
    keras.utils.set_random_seed(SEED)
    batch_size = 64
    augment = keras.Sequential(
        [keras.layers.RandomFlip("horizontal", seed=SEED), keras.layers.RandomTranslation(0.1, 0.1, seed=SEED)]
    )
    dataset = (
        tf.data.Dataset.from_tensor_slices((data["x_train"], data["y_train"]))
        .shuffle(len(data["x_train"]), seed=SEED, reshuffle_each_iteration=True)
        .batch(batch_size)
        .map(lambda x, y: (augment(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )
    steps = CIFAR_EPOCHS * math.ceil(len(data["x_train"]) / batch_size)
    model = cifar_vgg_small()
    model.compile(
        optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(2e-3, steps, alpha=0.02)),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(dataset, epochs=CIFAR_EPOCHS, verbose=2)
    info = {
        "epochs": CIFAR_EPOCHS,
        "batch_size": batch_size,
        "optimizer": "Adam, cosine decay from 2e-3",
        "augmentation": "RandomFlip(horizontal) + RandomTranslation(0.1, 0.1)",
        "train_images": len(data["x_train"]),
    }
    return model, info


def reference_model(name: str, data) -> tuple[keras.Model, dict]:
    """Loads the cached reference network, training (and caching) it first if needed."""
    path = CACHE / f"{name}_reference.keras"
    info_path = CACHE / f"{name}_reference.json"
    if path.is_file() and info_path.is_file():
        return spkeras.load_model(path), json.loads(info_path.read_text())
    print(f"[{name}] training the reference network (cached in {path})", file=sys.stderr, flush=True)
    started = time.perf_counter()
    model, info = train_mnist(data) if name == "mnist" else train_cifar(data)
    info["train_time_s"] = time.perf_counter() - started
    info["seed"] = SEED
    CACHE.mkdir(parents=True, exist_ok=True)
    spkeras.save_model(model, path)
    write_json(info, info_path)
    print(f"[{name}] trained in {info['train_time_s']:.0f} s", file=sys.stderr, flush=True)
    return model, info
