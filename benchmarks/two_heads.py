"""A two-head network (softmax classifier + linear regression) converted and scored per head (issue 26 item 3).

Usage:
    python benchmarks/two_heads.py [--train-images 10000] [--test-images 2000] [--epochs 3] [--timesteps 16 64]

An MNIST CNN with a shared trunk and two outputs — the digit (softmax over 10 classes) and the image's ink, its
mean pixel intensity × 10 (a linear regression head) — is trained (seeded), converted with ``spkeras.convert``
(ecc, T = max(--timesteps), without calibration and with ``calibrate="light"`` for that T; and channelwise with
one threshold per neuron of the dense hidden layer, ``dense_thresholds="neuron"``, ``v_init=0.5``) and scored with
``spkeras.simulate.score``: accuracy of the classifier and mean squared error of the regression head at each T,
next to the ANN's. Results go to
benchmarks/results/two_heads.json.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from common import RESULTS, load_mnist, machine, markdown_table, write_json  # noqa: E402

SEED = 0


def two_heads():
    import keras

    keras.utils.set_random_seed(SEED)
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(16, 3, activation="relu")(inputs)
    x = keras.layers.AveragePooling2D(2)(x)
    x = keras.layers.Conv2D(32, 3, activation="relu")(x)
    x = keras.layers.AveragePooling2D(2)(x)
    hidden = keras.layers.Dense(64, activation="relu")(keras.layers.Flatten()(x))
    digit = keras.layers.Dense(10, activation="softmax", name="digit")(hidden)
    ink = keras.layers.Dense(1, name="ink")(hidden)
    return keras.Model(inputs, [digit, ink], name="mnist_two_heads")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-images", type=int, default=10000)
    parser.add_argument("--test-images", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--timesteps", type=int, nargs="+", default=[16, 64])
    arguments = parser.parse_args()

    import keras

    import spkeras

    data = load_mnist()
    x_train, y_train = data["x_train"][: arguments.train_images], data["y_train"][: arguments.train_images]
    x_test, y_test = data["x_test"][: arguments.test_images], data["y_test"][: arguments.test_images]
    ink_train = 10 * x_train.mean(axis=(1, 2, 3))[:, None]
    ink_test = 10 * x_test.mean(axis=(1, 2, 3))[:, None]
    model = two_heads()
    model.compile(keras.optimizers.Adam(1e-3), loss=["sparse_categorical_crossentropy", "mse"])
    model.fit(x_train, [y_train, ink_train], epochs=arguments.epochs, batch_size=128, verbose=0)
    metrics = [keras.metrics.SparseCategoricalAccuracy(), "mse"]
    record = {"machine": machine(), "arguments": vars(arguments)}
    rows = []
    conversions = {
        "ecc": {},
        "ecc, calibrate='light'": {"calibrate": "light"},
        "channelwise, dense_thresholds='neuron', v_init=0.5": {
            "method": "channelwise",
            "dense_thresholds": "neuron",
            "v_init": 0.5,
            "calibration_timesteps": max(arguments.timesteps),
        },
    }
    for label, options in conversions.items():
        snn = spkeras.convert(model, x_train[:500], timesteps=max(arguments.timesteps), **options)
        scores = spkeras.simulate.score(snn, x_test, [y_test, ink_test], metrics, ann=model)
        accuracy, error = scores["snn"]
        ann_accuracy, ann_error = scores["ann"]
        record["ann"] = {"accuracy": ann_accuracy, "mse": ann_error}
        record[f"snn {label}"] = {
            str(t): {"accuracy": float(accuracy[t - 1]), "mse": float(error[t - 1])} for t in arguments.timesteps
        }
        rows += [
            [
                f"SNN, {label}, T = {t}",
                f"{accuracy[t - 1]:.4f}",
                f"{error[t - 1]:.5f}",
                f"{error[t - 1] / ann_error:.2f}",
            ]
            for t in arguments.timesteps
        ]
    rows.insert(0, ["ANN", f"{ann_accuracy:.4f}", f"{ann_error:.5f}", "1.00"])
    print(markdown_table(["network", "digit accuracy", "ink MSE", "MSE / ANN MSE"], rows))
    write_json(record, RESULTS / "two_heads.json")


if __name__ == "__main__":
    main()
