"""Helpers shared by the benchmark scripts: data paths, table printing, atomic JSON output."""

from __future__ import annotations

import json
import os
import pathlib
import platform
import tempfile

import numpy as np

REPOSITORY = pathlib.Path(__file__).resolve().parents[1]
SHARED = REPOSITORY.parent / "shared"
RESULTS = REPOSITORY / "benchmarks" / "results"


def _load_images(name: str, path: pathlib.Path | None, channel_axis: bool) -> dict[str, np.ndarray]:
    """Images of ../shared/data/<name> as float32 in [0, 1] (with a trailing channel axis if asked)."""
    path = path or SHARED / "data" / name
    if not path.is_file():
        raise SystemExit(f"{name} not found at {path}; this benchmark needs the shared data folder.")
    with np.load(path) as data:
        images = {key: data[key].astype("float32") / 255.0 for key in ("x_train", "x_test")}
        labels = {key: data[key].astype("int64").reshape(-1) for key in ("y_train", "y_test")}
    if channel_axis:
        images = {key: value[..., None] for key, value in images.items()}
    return {**images, **labels}


def load_mnist(path: pathlib.Path | None = None) -> dict[str, np.ndarray]:
    """Full MNIST from ../shared/data/mnist.npz as float32 in [0, 1] with a channel axis."""
    return _load_images("mnist.npz", path, channel_axis=True)


def load_cifar(path: pathlib.Path | None = None) -> dict[str, np.ndarray]:
    """The CIFAR-10 subset from ../shared/data/cifar10_subset.npz as float32 in [0, 1]."""
    return _load_images("cifar10_subset.npz", path, channel_axis=False)


def machine() -> dict:
    import tensorflow as tf

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "gpus": [device.name for device in tf.config.list_physical_devices("GPU")],
    }


def write_json(data: dict, path: pathlib.Path) -> pathlib.Path:
    """Writes ``data`` as JSON atomically (temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(handle, "w") as stream:
        json.dump(data, stream, indent=2)
    os.replace(temporary, path)
    return path


def compiled_ann(model):
    """The BN-folded ANN (folded as spkeras folds it) compiled with ``tf.function``: what the strict ratio's T ANN
    passes run."""
    import tensorflow as tf

    from spkeras.conversion import fold_model

    folded = fold_model(model)
    return tf.function(lambda batch: folded(batch, training=False))


def markdown_table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)
