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


def load_mnist(path: pathlib.Path | None = None) -> dict[str, np.ndarray]:
    """Full MNIST from ../shared/data/mnist.npz as float32 in [0, 1] with a channel axis."""
    path = path or SHARED / "data" / "mnist.npz"
    if not path.is_file():
        raise SystemExit(f"MNIST not found at {path}; this benchmark needs the shared data folder.")
    with np.load(path) as data:
        return {
            "x_train": (data["x_train"].astype("float32") / 255.0)[..., None],
            "y_train": data["y_train"].astype("int64"),
            "x_test": (data["x_test"].astype("float32") / 255.0)[..., None],
            "y_test": data["y_test"].astype("int64"),
        }


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


def markdown_table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)
