"""Train the small MNIST demo CNN shipped with spkeras.

The model mirrors the style of networks used with the original SpKeras tool
(Keras 2 era): a ``Sequential`` CNN that deliberately mixes ``use_bias=False``
convolutions, a generic ``Activation("relu")`` layer and a dedicated ``ReLU``
layer, so that the ANN->SNN converter has to handle all of these forms.

Outputs (written to ``--out-dir``, default ``spkeras/data``):

* ``demo_mnist_cnn.h5`` -- the trained model in legacy HDF5 format.
* ``mnist_sample.npz`` -- a small, reproducible MNIST subset with keys
  ``x_calibration``/``y_calibration`` (1,000 seeded-random training images)
  and ``x_test``/``y_test`` (the first 1,000 test images), all ``uint8``.

Usage (from the repository root)::

    python scripts/train_demo_model.py [--data PATH] [--epochs N] [--seed S] [--out-dir DIR]
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent

MODEL_FILENAME = "demo_mnist_cnn.h5"
SAMPLE_FILENAME = "mnist_sample.npz"
N_CALIBRATION = 1000
N_TEST_SAMPLE = 1000
BATCH_SIZE = 128
LEARNING_RATE = 1e-3


def _resolve(path: str) -> Path:
    """Resolve ``path`` relative to the repository root unless it is absolute."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else (REPO_ROOT / p).resolve()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data",
        default="../shared/data/mnist.npz",
        help="MNIST .npz (keys x_train, y_train, x_test, y_test); relative paths are resolved "
        "against the repository root (default: %(default)s)",
    )
    parser.add_argument("--epochs", type=int, default=3, help="training epochs (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    parser.add_argument(
        "--out-dir",
        default="spkeras/data",
        help="output folder, relative to the repository root (default: %(default)s)",
    )
    return parser.parse_args(argv)


def load_mnist(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return raw ``uint8`` MNIST arrays ``(x_train, y_train, x_test, y_test)``."""
    with np.load(path) as data:
        return data["x_train"], data["y_train"], data["x_test"], data["y_test"]


def preprocess(x: np.ndarray) -> np.ndarray:
    """Scale ``uint8`` images (N, 28, 28) to float32 in [0, 1] with shape (N, 28, 28, 1)."""
    return (x.astype("float32") / 255.0)[..., np.newaxis]


def build_model():
    """Build the demo CNN (Keras ``Sequential``)."""
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            layers.Conv2D(16, 3, use_bias=False),
            layers.BatchNormalization(),
            layers.Activation("relu"),
            layers.AveragePooling2D(2),
            layers.Conv2D(32, 3),
            layers.BatchNormalization(),
            layers.ReLU(),
            layers.AveragePooling2D(2),
            layers.Flatten(),
            layers.Dropout(0.2),
            layers.Dense(10, activation="softmax"),
        ],
        name="demo_mnist_cnn",
    )


def accuracy(model, x: np.ndarray, y: np.ndarray) -> float:
    """Top-1 accuracy of ``model`` on preprocessed images ``x`` and integer labels ``y``."""
    pred = model.predict(x, batch_size=1000, verbose=0)
    return float(np.mean(np.argmax(pred, axis=1) == y))


class _DropLegacyHdf5Warning(logging.Filter):
    """Drop Keras 3's "saving as HDF5 ... legacy" message (logged through absl)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "HDF5" not in record.getMessage()


def _publish(tmp: str, path: Path) -> None:
    """Give ``tmp`` normal file permissions (``mkstemp`` uses 0600) and move it onto ``path``."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, path)


def save_model_atomic(model, path: Path) -> None:
    """Save ``model`` as legacy HDF5 at ``path`` via a temp file and ``os.replace``.

    Keras 3 still writes the legacy HDF5 format for an ``.h5`` file name, but warns that
    the format is legacy; that is intended here, so the warning is suppressed.
    """
    # The temp name keeps the ``.h5`` suffix so that Keras picks the HDF5 format.
    fd, tmp = tempfile.mkstemp(suffix=".h5", prefix=".tmp_", dir=path.parent)
    os.close(fd)
    absl_logger = logging.getLogger("absl")
    log_filter = _DropLegacyHdf5Warning()
    absl_logger.addFilter(log_filter)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.save(tmp)
        _publish(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    finally:
        absl_logger.removeFilter(log_filter)


def save_npz_atomic(path: Path, **arrays: np.ndarray) -> None:
    """Write ``arrays`` with ``np.savez_compressed`` via a temp file and ``os.replace``."""
    fd, tmp = tempfile.mkstemp(suffix=".npz", prefix=".tmp_", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(f, **arrays)
        _publish(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    data_path = _resolve(args.data)
    out_dir = _resolve(args.out_dir)

    import keras

    keras.utils.set_random_seed(args.seed)

    x_train_u8, y_train, x_test_u8, y_test = load_mnist(data_path)
    print(f"Loaded MNIST from {data_path}: train {x_train_u8.shape}, test {x_test_u8.shape}")
    x_train, x_test = preprocess(x_train_u8), preprocess(x_test_u8)

    model = build_model()
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=LEARNING_RATE),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.summary()

    start = time.perf_counter()
    model.fit(
        x_train,
        y_train,
        batch_size=BATCH_SIZE,
        epochs=args.epochs,
        validation_data=(x_test, y_test),
        verbose=2,
    )
    train_time = time.perf_counter() - start
    print(f"Training time: {train_time:.1f} s ({args.epochs} epochs)")

    acc_full = accuracy(model, x_test, y_test)
    acc_sample = accuracy(model, x_test[:N_TEST_SAMPLE], y_test[:N_TEST_SAMPLE])
    print(f"Test accuracy (all {len(y_test)} images): {acc_full:.4f}")
    print(f"Test accuracy (first {N_TEST_SAMPLE} images): {acc_sample:.4f}")

    # Reproducible calibration subset: a seeded choice of training indices (sorted).
    rng = np.random.default_rng(args.seed)
    calib_idx = np.sort(rng.choice(len(x_train_u8), size=N_CALIBRATION, replace=False))

    out_dir.mkdir(parents=True, exist_ok=True)
    model_path = out_dir / MODEL_FILENAME
    sample_path = out_dir / SAMPLE_FILENAME
    save_model_atomic(model, model_path)
    save_npz_atomic(
        sample_path,
        x_calibration=x_train_u8[calib_idx].astype(np.uint8),
        y_calibration=y_train[calib_idx].astype(np.uint8),
        x_test=x_test_u8[:N_TEST_SAMPLE].astype(np.uint8),
        y_test=y_test[:N_TEST_SAMPLE].astype(np.uint8),
    )
    for path in (model_path, sample_path):
        print(f"Wrote {path} ({path.stat().st_size / 1024:.1f} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
