"""Spiking max pooling against average-pooling replacement, on a trained MNIST net and a trained CIFAR-10 VGG.

Usage:
    python benchmarks/max_pooling.py [--models mnist cifar_vgg] [--test-images 2000] [--methods ecc robust]
                                     [--calibrate none light] [--refresh]

Two nets with max pooling are trained (seeded; cached in benchmarks/cache/):

- ``mnist``: Conv(16)-BN-ReLU-MaxPool-Conv(32)-BN-ReLU-AvgPool-Flatten-Dense(10), 3 epochs on the 60,000 MNIST
  training images;
- ``cifar_vgg``: a small VGG, [Conv(32)-BN-ReLU ×2, MaxPool] → [64 ×2, MaxPool] → [128 ×2, MaxPool] → Dense(10),
  30 epochs on the 4,000 CIFAR-10 training images of the shared subset (with flips and shifts).

Each is converted with ``max_pooling="spiking"`` (gated spiking max pooling) and ``max_pooling="average"``
(every MaxPooling2D replaced by AveragePooling2D), per method and calibration setting, and simulated for 256 steps
on the first ``--test-images`` test images: SNN accuracy at t = 16, 32, 64, 128, 256, next to the max-pool ANN and
the ANN with its max pools replaced by average pools (what the ``"average"`` policy converts). Results are cached
in benchmarks/results/max_pooling.json; the table is printed and a plot written to
benchmarks/results/max_pooling.png.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from common import RESULTS, load_cifar, load_mnist, machine, markdown_table, write_json  # noqa: E402

SEED = 0
REPORT_STEPS = (16, 32, 64, 128, 256)
CACHE = pathlib.Path(__file__).resolve().parent / "cache"
TRAINING = {"mnist": {"epochs": 3, "batch_size": 128}, "cifar_vgg": {"epochs": 30, "batch_size": 64}}


def mnist_net():
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(16, 3, padding="same", use_bias=False),
            layers.BatchNormalization(),
            layers.ReLU(),
            layers.MaxPooling2D(2),
            layers.Conv2D(32, 3, padding="same", use_bias=False),
            layers.BatchNormalization(),
            layers.ReLU(),
            layers.AveragePooling2D(2),
            layers.Flatten(),
            layers.Dense(10),
        ],
        name="mnist_max_pool",
    )


def cifar_vgg():
    import keras
    from keras import layers

    stack = [keras.Input((32, 32, 3))]
    for filters in (32, 64, 128):
        for _ in range(2):
            stack += [layers.Conv2D(filters, 3, padding="same", use_bias=False), layers.BatchNormalization()]
            stack.append(layers.ReLU())
        stack.append(layers.MaxPooling2D(2))
    stack += [layers.Flatten(), layers.Dropout(0.3), layers.Dense(10)]
    return keras.Sequential(stack, name="cifar_vgg_max_pool")


def trained(name: str, data: dict):
    """The trained net and its training record, from the cache if there."""
    import keras

    import spkeras

    path, info_path = CACHE / f"max_pooling_{name}.keras", CACHE / f"max_pooling_{name}.json"
    if path.is_file() and info_path.is_file():
        return spkeras.load_model(path), json.loads(info_path.read_text())
    keras.utils.set_random_seed(SEED)
    model = mnist_net() if name == "mnist" else cifar_vgg()
    settings = TRAINING[name]
    steps = settings["epochs"] * int(np.ceil(len(data["x_train"]) / settings["batch_size"]))
    model.compile(
        optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(2e-3, steps, alpha=0.02)),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    x_train = data["x_train"]
    if name == "cifar_vgg":
        augment = keras.Sequential([keras.layers.RandomFlip("horizontal"), keras.layers.RandomTranslation(0.1, 0.1)])
        import tensorflow as tf

        dataset = (
            tf.data.Dataset.from_tensor_slices((x_train, data["y_train"]))
            .shuffle(len(x_train), seed=SEED)
            .batch(settings["batch_size"])
            .map(lambda x, y: (augment(x, training=True), y))
        )
        fit_arguments = {"x": dataset}
    else:
        fit_arguments = {"x": x_train, "y": data["y_train"], "batch_size": settings["batch_size"]}
    started = time.perf_counter()
    model.fit(**fit_arguments, epochs=settings["epochs"], verbose=2)
    info = {**settings, "train_images": len(x_train), "parameters": int(model.count_params())}
    info.update(train_time_s=time.perf_counter() - started, seed=SEED)
    CACHE.mkdir(parents=True, exist_ok=True)
    spkeras.save_model(model, path)
    write_json(info, info_path)
    return model, info


def accuracy(model, x, y) -> float:
    return float(np.mean(np.argmax(model.predict(x, verbose=0, batch_size=500), -1) == y))


def measure(name: str, data: dict, test_images: int, methods, calibrations) -> dict:
    import spkeras
    from spkeras.conversion import fold_model

    model, info = trained(name, data)
    x_test, y_test = data["x_test"][:test_images], data["y_test"][:test_images]
    x_calibration = data["x_train"][:1000]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the max → average pooling notice of the "average" ANN
        average_ann = fold_model(model, max_pooling="average")
    result = {
        "training": info,
        "test_images": len(x_test),
        "ann_max_pool": accuracy(model, x_test, y_test),
        "ann_average_pool": accuracy(average_ann, x_test, y_test),
        "runs": {},
    }
    for method in methods:
        for calibrate in calibrations:
            for policy in ("spiking", "average"):
                started = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    snn = spkeras.convert(
                        model,
                        x_calibration,
                        method=method,
                        timesteps=64,
                        max_pooling=policy,
                        calibrate=None if calibrate == "none" else calibrate,
                    )
                converted = time.perf_counter() - started
                started = time.perf_counter()
                run = spkeras.evaluate(snn, x_test, y_test, timesteps=max(REPORT_STEPS), batch_size=200)
                result["runs"][f"{method}|{calibrate}|{policy}"] = {
                    "accuracy": run.accuracy.tolist(),
                    "spikes_per_image": float(run.spikes_per_step.sum()),
                    "convert_s": converted,
                    "evaluate_s": time.perf_counter() - started,
                }
                print(f"{name} {method} {calibrate} {policy}: t=64 {run.accuracy_at(64):.4f}", flush=True)
    return result


def plot(results: dict, path: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(results), figsize=(6 * len(results), 4), squeeze=False)
    for axis, (name, result) in zip(axes[0], results.items()):
        steps = None
        for key, run in result["runs"].items():
            steps = np.arange(1, len(run["accuracy"]) + 1)
            style = "-" if key.endswith("spiking") else "--"
            axis.plot(steps, 100 * np.asarray(run["accuracy"]), style, label=key.replace("|", ", "))
        axis.axhline(100 * result["ann_max_pool"], color="black", lw=0.8, label="ANN (max pooling)")
        axis.axhline(100 * result["ann_average_pool"], color="grey", lw=0.8, ls=":", label="ANN, max → average")
        axis.set(xscale="log", xlabel="time step t", ylabel="accuracy (%)", title=name)
        axis.set_ylim(max(0, 100 * result["ann_average_pool"] - 25), 100 * result["ann_max_pool"] + 2)
        axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["mnist", "cifar_vgg"], choices=["mnist", "cifar_vgg"])
    parser.add_argument("--test-images", type=int, default=2000)
    parser.add_argument("--methods", nargs="+", default=["ecc", "robust"])
    parser.add_argument("--calibrate", nargs="+", default=["none"], help="calibration settings ('none', 'light')")
    parser.add_argument("--refresh", action="store_true")
    parser.add_argument("--output", default=str(RESULTS / "max_pooling.json"))
    arguments = parser.parse_args(argv)

    output = pathlib.Path(arguments.output)
    cache = json.loads(output.read_text()) if output.is_file() else {"results": {}}
    shown = {}
    for name in arguments.models:
        key = f"{name}|n={arguments.test_images}|{'+'.join(arguments.methods)}|{'+'.join(arguments.calibrate)}"
        if key not in cache["results"] or arguments.refresh:
            data = load_mnist() if name == "mnist" else load_cifar()
            cache["results"][key] = measure(name, data, arguments.test_images, arguments.methods, arguments.calibrate)
            cache["machine"] = machine()
            write_json(cache, output)
        shown[name] = cache["results"][key]

    header = ["model", "method", "calibrate", "max_pooling", "ANN"] + [f"t = {t}" for t in REPORT_STEPS]
    header.append("spikes / image")
    rows = []
    for name, result in shown.items():
        for key, run in result["runs"].items():
            method, calibrate, policy = key.split("|")
            reference = result["ann_max_pool"] if policy == "spiking" else result["ann_average_pool"]
            row = [name, method, calibrate, policy, f"{100 * reference:.2f}"]
            row += [f"{100 * run['accuracy'][t - 1]:.2f}" for t in REPORT_STEPS]
            rows.append(row + [f"{run['spikes_per_image']:.0f}"])
        print(
            f"{name}: ANN with max pooling {100 * result['ann_max_pool']:.2f} %, with average pooling "
            f"{100 * result['ann_average_pool']:.2f} % ({result['test_images']} test images)"
        )
    print(markdown_table(header, rows))
    plot(shown, output.with_suffix(".png"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
