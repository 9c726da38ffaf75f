"""An ELU network through prepare_for_conversion → fine-tune → convert (issue 26 item 2).

Usage:
    python benchmarks/replaced_activations.py [--train-images 20000] [--test-images 2000] [--levels 8]
                                              [--epochs 3] [--finetune-epochs 2] [--timesteps 16 64]

An MNIST CNN written with ELU activations and BatchNormalization *after* each activation (Conv(16)-ELU-BN-
AvgPool-Conv(32)-ELU-BN-AvgPool-Flatten-Dense(10)) is trained (seeded). ELU has no spiking equivalent, so
``spkeras.convert`` refuses it; ``spkeras.prepare_for_conversion`` replaces each ELU by the QCFS activation (L =
``--levels``), ``spkeras.finetune`` recovers the accuracy, and the result converts (θ = λ) and is simulated. The
table gives the original ELU ANN, the prepared copy before fine-tuning, the fine-tuned ANN and the SNN at each T,
on the same test images; results go to benchmarks/results/replaced_activations.json.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from common import RESULTS, load_mnist, machine, markdown_table, write_json  # noqa: E402

SEED = 0


def elu_network():
    import keras

    keras.utils.set_random_seed(SEED)
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(16, 3, padding="same", activation="elu"),
            keras.layers.BatchNormalization(),
            keras.layers.AveragePooling2D(2),
            keras.layers.Conv2D(32, 3, padding="same", activation="elu"),
            keras.layers.BatchNormalization(),
            keras.layers.AveragePooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(10),
        ],
        name="mnist_elu_bn_after",
    )


def accuracy(model, x, y) -> float:
    return float(np.mean(model.predict(x, batch_size=500, verbose=0).argmax(-1) == y))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-images", type=int, default=20000)
    parser.add_argument("--test-images", type=int, default=2000)
    parser.add_argument("--levels", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--finetune-epochs", type=int, default=2)
    parser.add_argument("--timesteps", type=int, nargs="+", default=[8, 16, 64])
    arguments = parser.parse_args()

    import keras

    import spkeras

    data = load_mnist()
    x_train, y_train = data["x_train"][: arguments.train_images], data["y_train"][: arguments.train_images]
    x_test, y_test = data["x_test"][: arguments.test_images], data["y_test"][: arguments.test_images]
    started = time.perf_counter()
    model = elu_network()
    model.compile(keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x_train, y_train, epochs=arguments.epochs, batch_size=128, verbose=0)
    train_seconds = time.perf_counter() - started
    try:
        spkeras.convert(model, x_train[:100], timesteps=16)
        refusal = None
    except ValueError as error:
        refusal = str(error)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        prepared = spkeras.prepare_for_conversion(model, levels=arguments.levels, x_calibration=x_train[:1000])
    started = time.perf_counter()
    tuned = spkeras.finetune(
        prepared, x_train, y_train, levels=arguments.levels, epochs=arguments.finetune_epochs, verbose=False
    )
    finetune_seconds = time.perf_counter() - started
    snn = spkeras.convert(tuned, None, timesteps=max(arguments.timesteps))
    result = spkeras.evaluate(snn, x_test, y_test, timesteps=max(arguments.timesteps))
    # Post-conversion calibration for the smallest T (the QCFS-tuned ANN is the calibration target).
    low = min(arguments.timesteps)
    calibrated = spkeras.convert(tuned, x_train[:500], timesteps=low, calibrate="light")
    calibrated_result = spkeras.evaluate(calibrated, x_test, y_test, timesteps=max(arguments.timesteps))
    record = {
        "machine": machine(),
        "arguments": vars(arguments),
        "refusal_before_prepare": refusal,
        "prepare_warnings": [str(item.message) for item in caught],
        "ann_elu": accuracy(model, x_test, y_test),
        "ann_prepared_before_finetune": accuracy(prepared, x_test, y_test),
        "ann_finetuned": accuracy(tuned, x_test, y_test),
        "snn": {str(t): result.accuracy_at(t) for t in arguments.timesteps},
        "snn_calibrated_light": {str(t): calibrated_result.accuracy_at(t) for t in arguments.timesteps},
        "calibrated_for": low,
        "train_seconds": train_seconds,
        "finetune_seconds": finetune_seconds,
    }
    rows = [
        ["original ELU ANN", f"{record['ann_elu']:.4f}", "—"],
        ["prepared (QCFS), not fine-tuned", f"{record['ann_prepared_before_finetune']:.4f}", "—"],
        ["fine-tuned QCFS ANN", f"{record['ann_finetuned']:.4f}", "—"],
    ]
    rows += [
        [
            f"SNN at T = {t}, calibrate='light' for T = {low}",
            f"{record['snn_calibrated_light'][str(t)]:.4f}",
            f"{record['ann_finetuned'] - record['snn_calibrated_light'][str(t)]:+.4f}",
        ]
        for t in arguments.timesteps
    ]
    rows += [
        [f"SNN at T = {t}", f"{record['snn'][str(t)]:.4f}", f"{record['ann_finetuned'] - record['snn'][str(t)]:+.4f}"]
        for t in arguments.timesteps
    ]
    print(markdown_table(["network", "accuracy", "loss vs fine-tuned ANN"], rows))
    print(f"ELU ANN → fine-tuned ANN: {record['ann_elu'] - record['ann_finetuned']:+.4f}")
    write_json(record, RESULTS / "replaced_activations.json")


if __name__ == "__main__":
    main()
