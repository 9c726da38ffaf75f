"""Keras-2-era .h5 files: which load, at what ANN accuracy, and how their SNNs do (issue 26).

For each era of tests/io/legacy_corpus.py (standalone Keras 2.0.8 / 2.2.4 / 2.3.1, tf.keras 1.15 / 2.3) and each
architecture (a Sequential CNN, a functional CNN with two branches added), a small network is trained in Keras 3
on a few hundred MNIST images (../shared/data/mnist.npz, fixed seeds), written in that era's exact HDF5 layout and
config JSON, and loaded back with ``spkeras.load_model``. The table reports whether Keras 3 alone reads the file
correctly, whether spkeras loads it, whether the loaded ANN's outputs are bit-identical to the trained network's,
its accuracy, and the accuracy of ``spkeras.convert(..., timesteps=64)`` evaluated at T = 16 and 64, and of
``spkeras.convert(..., timesteps=64, calibrate="advanced")`` at T = 64.

Further ``.h5`` files (e.g. real ones from public repositories) can be passed as arguments: they are loaded with
Keras 3 alone and with spkeras and evaluated on MNIST (or, for 32x32x3 inputs, the CIFAR-10 subset) test images
scaled to [0, 1] (their own preprocessing is not known here).
Run: ``python -m benchmarks.real_models [FILE.h5 ...]``; writes benchmarks/results/real_models.json.
"""

from __future__ import annotations

import pathlib
import sys
import tempfile
import warnings

import keras
import numpy as np

import spkeras
from benchmarks.common import RESULTS, load_cifar, load_mnist, machine, write_json
from tests.io import legacy_corpus

TRAIN, TEST, CALIBRATION = 600, 500, 200


def _shape(kind: str) -> dict:
    return {"shape": (28, 28, 1), "classes": 10} | ({"hidden": 64} if kind == "sequential" else {})


def _keras_alone(path, reference_inputs) -> str:
    """Whether Keras 3's own loader reads the file with the declared inputs ("yes", or why not)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model = keras.saving.load_model(path, compile=False)
        except Exception as error:  # noqa: BLE001  (the benchmark reports any failure)
            return f"no: {type(error).__name__}"
    built = tuple(model.inputs[0].shape)
    return "yes" if reference_inputs is None or built == reference_inputs else f"no: inputs {built}"


def _accuracy(model, x, y) -> float:
    return float((model.predict(x, verbose=0).argmax(-1) == y).mean())


def _snn(model, x_calibration, x_test, y_test) -> dict:
    snn = spkeras.convert(model, x_calibration[:CALIBRATION], timesteps=64)
    result = spkeras.evaluate(snn, x_test, y_test, timesteps=64)
    calibrated = spkeras.convert(model, x_calibration[:CALIBRATION], timesteps=64, calibrate="advanced")
    advanced = spkeras.evaluate(calibrated, x_test, y_test, timesteps=64)
    return {
        "snn_t16": result.accuracy_at(16),
        "snn_t64": result.accuracy_at(64),
        "snn_advanced_t64": advanced.accuracy_at(64),
    }


def corpus_rows(data, folder: pathlib.Path) -> list[dict]:
    rows, trained = [], {}
    x_test, y_test = data["x_test"][:TEST], data["y_test"][:TEST]
    for kind in ("sequential", "functional"):
        keras.utils.set_random_seed(0)
        _, reference = getattr(legacy_corpus, kind)("keras-2.2.4", **_shape(kind), randomise=False)
        reference.compile("adam", "sparse_categorical_crossentropy")
        reference.fit(data["x_train"][:TRAIN], data["y_train"][:TRAIN], epochs=8, batch_size=32, verbose=0)
        trained[kind] = reference
    for era in legacy_corpus.ERAS:
        for kind in ("sequential", "functional"):
            config, fresh = getattr(legacy_corpus, kind)(era, **_shape(kind))
            fresh.set_weights(trained[kind].get_weights())  # same layers, this era's layer names
            path = folder / f"{era}-{kind}.h5"
            legacy_corpus.write(path, era, config, fresh)
            row = {"era": era, "model": kind, "layers": len(fresh.layers), "bytes": path.stat().st_size}
            row["keras3_alone"] = _keras_alone(path, (None, 28, 28, 1))
            try:
                model = spkeras.load_model(path)
            except ValueError as error:
                rows.append(row | {"loads": False, "error": str(error)[:300]})
                continue
            identical = np.array_equal(model.predict(x_test, verbose=0), fresh.predict(x_test, verbose=0))
            row |= {"loads": True, "bit_identical": bool(identical), "ann": _accuracy(model, x_test, y_test)}
            rows.append(row | _snn(model, data["x_train"], x_test, y_test))
    return rows


def file_rows(paths: list[str], mnist) -> list[dict]:
    rows, cifar = [], None
    for name in paths:
        row = {"era": "file", "model": pathlib.Path(name).name, "keras3_alone": _keras_alone(name, None)}
        try:
            model = spkeras.load_model(name)
        except ValueError as error:
            rows.append(row | {"loads": False, "error": str(error)[:300]})
            continue
        shape = (-1, *model.inputs[0].shape[1:])
        if tuple(shape[1:]) == (32, 32, 3):
            cifar = cifar or load_cifar()
        data = cifar if tuple(shape[1:]) == (32, 32, 3) else mnist
        row["data"] = "cifar10_subset" if data is cifar else "mnist"
        x, y = data["x_test"][:TEST].reshape(shape), data["y_test"][:TEST]
        row |= {"loads": True, "layers": len(model.layers), "ann": _accuracy(model, x, y)}
        try:
            rows.append(row | _snn(model, data["x_train"][:CALIBRATION].reshape(shape), x, y))
        except ValueError as error:
            rows.append(row | {"snn_error": str(error)[:200]})
    return rows


def table(rows: list[dict]) -> str:
    lines = [
        f"{'era':<14} {'model':<24} {'layers':>6} {'Keras 3 alone':<30} {'loads':<5} {'identical':<9} "
        f"{'ANN':>6} {'SNN T=16':>8} {'SNN T=64':>8} {'advanced T=64':>13}"
    ]
    for row in rows:
        number = {
            key: f"{row[key]:.3f}" if key in row else "-" for key in ("ann", "snn_t16", "snn_t64", "snn_advanced_t64")
        }
        lines.append(
            f"{row['era']:<14} {row['model'][:24]:<24} {row.get('layers', '-'):>6} {row['keras3_alone'][:30]:<30} "
            f"{'y' if row['loads'] else 'n':<5} {str(row.get('bit_identical', '-')):<9} {number['ann']:>6} "
            f"{number['snn_t16']:>8} {number['snn_t64']:>8} {number['snn_advanced_t64']:>13}"
        )
    return "\n".join(lines)


def main(paths: list[str]) -> None:
    data = load_mnist()
    with tempfile.TemporaryDirectory() as folder:
        rows = corpus_rows(data, pathlib.Path(folder)) + file_rows(paths, data)
    print(table(rows))
    settings = {"train": TRAIN, "test": TEST, "calibration": CALIBRATION, "convert_timesteps": 64}
    write_json({"machine": machine(), "settings": settings, "rows": rows}, RESULTS / "real_models.json")


if __name__ == "__main__":
    main(sys.argv[1:])
