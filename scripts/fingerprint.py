"""Prints a fingerprint (SHA-256 per result) of spkeras's numerical behaviour, to prove a refactor changed none.

Every method (and ``ecc`` with ``signed_bit``), each post-conversion calibration mode and pipeline, ``evaluate``
(accuracy and spike counts), ``record``, the closed form, and both ``cnn_to_snn`` modes run on the bundled demo
model and MNIST sample. Run it before and after a change and compare the two outputs::

    python scripts/fingerprint.py > before.json   # on the old tree
    python scripts/fingerprint.py > after.json    # on the new tree
    diff before.json after.json                   # empty: bit-identical
"""

from __future__ import annotations

import hashlib
import json
import sys

import keras
import numpy as np

import spkeras
from spkeras.models import cnn_to_snn


def digest(*arrays) -> str:
    hasher = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(np.asarray(array))
        hasher.update(str(array.dtype).encode() + str(array.shape).encode())
        hasher.update(array.tobytes())
    return hasher.hexdigest()[:16]


def weights_digest(model: keras.Model) -> str:
    return digest(*[np.asarray(weight) for layer in model.layers for weight in layer.weights])


def main() -> None:
    sample = spkeras.demo.load_sample()
    x_cal, x_test, y_test = sample["x_calibration"][:200], sample["x_test"][:100], sample["y_test"][:100]
    cnn = spkeras.load_model(spkeras.demo.DEMO_MODEL_PATH)
    prints: dict[str, str] = {}
    runs = {name: {"method": name} for name in spkeras.methods.available_methods() if name != "qcfs"}
    runs["ecc_signed_bit8"] = {"method": "ecc", "signed_bit": 8}
    for mode in ("threshold", "bias", "potential", "per_step", "light", "advanced"):
        runs[f"ecc_calibrate_{mode}"] = {"method": "ecc", "calibrate": mode}
    for name, options in runs.items():
        snn = spkeras.convert(cnn, x_cal, timesteps=8, **options)
        result = spkeras.evaluate(snn, x_test, y_test, timesteps=8)
        prints[f"{name}/weights"] = weights_digest(snn)
        prints[f"{name}/evaluate"] = digest(result.accuracy, result.spikes_per_step)
        print(name, file=sys.stderr)
    prints["default/weights"] = weights_digest(spkeras.convert(cnn, x_cal, timesteps=8))  # ecc, percentile=99.9
    snn = spkeras.convert(cnn, x_cal, method="ecc", timesteps=8)
    rates = spkeras.simulate.record(snn, x_test[:20], timesteps=8)
    prints["record"] = digest(*[rates[key] for key in sorted(rates)])
    closed = spkeras.estimate_closed_form(snn, x_test, y_test, timesteps=[8, 32])
    prints["closed_form"] = digest(np.asarray(closed.accuracy))
    prepared = spkeras.prepare_for_conversion(cnn, levels=4, x_calibration=x_cal)
    qsnn = spkeras.convert(prepared, x_cal, timesteps=4)
    prints["qcfs/weights"] = weights_digest(qsnn)
    prints["qcfs/evaluate"] = digest(spkeras.evaluate(qsnn, x_test, y_test, timesteps=4).accuracy)
    for legacy in (False, True):
        converter = cnn_to_snn(legacy=legacy)
        model = converter(cnn, x_cal)
        _, accuracy = model.evaluate(x_test, y_test, timesteps=32)
        prints[f"cnn_to_snn_legacy={legacy}"] = digest(np.asarray(accuracy, dtype=np.float64))
    print(json.dumps(prints, indent=1, sort_keys=True))


if __name__ == "__main__":
    keras.utils.set_random_seed(0)
    main()
