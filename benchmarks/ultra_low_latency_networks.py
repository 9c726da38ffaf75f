"""The networks of benchmarks/ultra_low_latency.py: the cached ReLU reference networks and their QCFS-fine-tuned
copies (cached per setting), with their accuracy; not a script."""

from __future__ import annotations

import hashlib
import json
import pathlib
import sys
import time

import keras
import numpy as np
from common import write_json
from methods_comparison_networks import SEED, reference_model

import spkeras
from spkeras.layers import QuantizedClipFloorShift

CACHE = pathlib.Path(__file__).resolve().parent / "cache"
CACHE_NAMES = {"resnet": "cifar_resnet8", "vgg": "cifar", "mnist": "mnist"}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def load_network(name: str, data) -> tuple[keras.Model, dict]:
    if name != "resnet":
        model, info = reference_model(CACHE_NAMES[name], data)
        return model, dict(info)
    import low_latency_networks

    model, info = low_latency_networks.load_network("resnet", data)
    info = {**info, "builder": "benchmarks/low_latency.py: cifar_resnet8"}
    return model, info


def finetune_settings(name: str, levels: int, arguments) -> dict:
    cifar = name != "mnist"
    return {
        "levels": levels,
        "epochs": arguments.cifar_epochs if cifar else arguments.mnist_epochs,
        "learning_rate": arguments.cifar_lr if cifar else arguments.mnist_lr,
        "batch_size": 64 if cifar else 128,
        "augment": cifar,
        "train_images": None if cifar else arguments.mnist_train,
        "seed": SEED,
    }


def tuned_model(name: str, model, data, settings: dict) -> tuple[keras.Model, dict]:
    """The QCFS-fine-tuned copy of ``model`` for ``settings``, from the cache or fine-tuned (and cached) now."""
    key = hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:8]
    path = CACHE / f"{CACHE_NAMES[name]}_qcfs_L{settings['levels']}_{key}.keras"
    info_path = path.with_suffix(".json")
    if path.is_file() and info_path.is_file():
        return spkeras.load_model(path), json.loads(info_path.read_text())
    x, y = data["x_train"], data["y_train"]
    if settings["train_images"] is not None:
        x, y = x[: settings["train_images"]], y[: settings["train_images"]]
    log(f"[{name}] QCFS fine-tuning L={settings['levels']}: {settings} on {len(x)} images")
    tuned = spkeras.finetune(
        model,
        x,
        y,
        levels=settings["levels"],
        epochs=settings["epochs"],
        batch_size=settings["batch_size"],
        learning_rate=settings["learning_rate"],
        augment=settings["augment"],
        seed=settings["seed"],
        verbose=False,
    )
    info = {
        **settings,
        "train_images": len(x),
        "finetune_seconds": tuned.finetune_seconds,
        "history": tuned.finetune_history,
        "thresholds": [float(np.mean(keras.ops.convert_to_numpy(layer.threshold))) for layer in qcfs_layers(tuned)],
    }
    CACHE.mkdir(parents=True, exist_ok=True)
    spkeras.save_model(tuned, path)
    write_json(info, info_path)
    log(f"[{name}] fine-tuned L={settings['levels']} in {tuned.finetune_seconds:.0f} s")
    return tuned, info


def qcfs_layers(model) -> list:
    return [layer for layer in model.layers if isinstance(layer, QuantizedClipFloorShift)]


def accuracy(model, x, y) -> float:
    logits = model.predict(x, batch_size=500, verbose=0)
    return float(np.mean(np.argmax(logits, -1) == y))
