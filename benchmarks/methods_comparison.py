"""Every registered conversion method on two reference networks: an MNIST CNN and a small CIFAR-10 VGG.

Usage:
    python benchmarks/methods_comparison.py [--datasets mnist cifar] [--methods ecc robust ...] [--timesteps 256]
        [--mnist-limit N] [--cifar-limit N] [--batch-size 100] [--output-dir benchmarks/results]

The two networks are trained once (seeded) and cached in benchmarks/cache/; reruns load them:

- MNIST: Conv2D(16,3)-BN-ReLU-AvgPool-Conv2D(32,3)-BN-ReLU-AvgPool-Flatten-Dense(10), 60,000 training
  images, 3 epochs of Adam (batch 128); evaluated on the 10,000 test images (or the first ``--mnist-limit``).
- CIFAR-10: [Conv2D(32,3,same)-BN-ReLU]x2-AvgPool-[Conv2D(64,3,same)-BN-ReLU]x2-AvgPool-Flatten-Dense(128)-ReLU-
  Dense(10) with dropout, trained on the 4,000 images of ../shared/data/cifar10_subset.npz with random flips and
  shifts (a tf.data pipeline, not part of the saved model); evaluated on its 4,593 test images (or the first
  ``--cifar-limit``).

Each method converts each network with the same 1,000 calibration images (a seeded choice of training images)
and one simulation of ``--timesteps`` steps gives the accuracy at t = 1, 2, 4, ..., T. The script prints a
markdown table per dataset and writes methods_comparison.json, methods_comparison.md and methods_comparison.png
into the output directory.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import pathlib
import subprocess
import sys
import time

import keras
import numpy as np
import tensorflow as tf

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from common import RESULTS, load_cifar, load_mnist, machine, markdown_table, write_json  # noqa: E402

import spkeras  # noqa: E402

CACHE = pathlib.Path(__file__).resolve().parent / "cache"
SEED = 1234
CALIBRATION_IMAGES = 1000
DATASETS = ("mnist", "cifar")
TITLES = {"mnist": "MNIST CNN", "cifar": "CIFAR-10 VGG-small"}
CIFAR_EPOCHS = 40
MNIST_EPOCHS = 3


# --- data ---------------------------------------------------------------------------------------------------


def load_dataset(name: str) -> dict[str, np.ndarray]:
    return load_mnist() if name == "mnist" else load_cifar()


# --- reference networks ---------------------------------------------------------------------------------------


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


# --- benchmark ----------------------------------------------------------------------------------------------


def report_steps(timesteps: int) -> list[int]:
    steps = [2**k for k in range(int(math.log2(timesteps)) + 1)]
    return steps if steps[-1] == timesteps else steps + [timesteps]


def run_dataset(name: str, arguments, report: dict) -> dict:
    data = load_dataset(name)
    limit = arguments.mnist_limit if name == "mnist" else arguments.cifar_limit
    x_test, y_test = data["x_test"][:limit], data["y_test"][:limit]
    calibration = data["x_train"][
        np.sort(np.random.default_rng(SEED).choice(len(data["x_train"]), CALIBRATION_IMAGES, replace=False))
    ]
    model, training = reference_model(name, data)
    logits = model.predict(x_test, batch_size=500, verbose=0)
    ann_accuracy = float(np.mean(np.argmax(logits, -1) == y_test))
    print(f"[{name}] ANN accuracy {ann_accuracy:.4f} on {len(x_test)} test images", file=sys.stderr, flush=True)
    steps = report_steps(arguments.timesteps)
    entry = {
        "model": model.name,
        "training": training,
        "test_images": len(x_test),
        "test_limit": limit,
        "test_images_per_class": np.bincount(y_test, minlength=int(data["y_test"].max()) + 1).tolist(),
        "calibration_images": len(calibration),
        "ann_accuracy": ann_accuracy,
        "report_steps": steps,
        "methods": {},
    }
    report["datasets"][name] = entry
    for method in arguments.methods:
        started = time.perf_counter()
        snn = spkeras.convert(model, calibration, method=method, timesteps=arguments.timesteps)
        conversion_time = time.perf_counter() - started
        result = spkeras.evaluate(snn, x_test, y_test, timesteps=arguments.timesteps, batch_size=arguments.batch_size)
        events = float(result.events_per_step.sum()) if result.events_per_step is not None else None
        entry["methods"][method] = {
            "conversion_time_s": conversion_time,
            "evaluation_time_s": result.wall_time,
            "accuracy_at": {str(t): result.accuracy_at(t) for t in steps},
            "accuracy_per_step": [float(a) for a in result.accuracy],
            "spikes_per_image": result.spikes_per_image(),
            "events_per_image": events,
            "spikes_per_image_per_layer": result.spikes_per_layer(),
        }
        print(
            f"[{name}] {method}: acc@T={result.accuracy_at(arguments.timesteps):.4f}, "
            f"convert {conversion_time:.1f} s, evaluate {result.wall_time:.1f} s",
            file=sys.stderr,
            flush=True,
        )
        # Keeps partial results on disk in case a later method is interrupted.
        write_json(report, pathlib.Path(arguments.output_dir) / "methods_comparison.partial.json")
    entry["targets"] = targets(name, entry)
    return entry


def targets(name: str, entry: dict) -> dict:
    """MNIST: does the best method reach the ANN accuracy at some T <= 8? CIFAR: best loss at T = 16 and 64."""
    ann = entry["ann_accuracy"]
    methods = entry["methods"]
    if not methods:
        return {}
    if name == "mnist":
        candidates = [t for t in (1, 2, 4, 8) if str(t) in next(iter(methods.values()))["accuracy_at"]]
        best_method, best_accuracy, best_step = None, -1.0, None
        for method, values in methods.items():
            for t in candidates:
                if values["accuracy_at"][str(t)] > best_accuracy:
                    best_method, best_accuracy, best_step = method, values["accuracy_at"][str(t)], t
        reached = {
            method: next((t for t in candidates if values["accuracy_at"][str(t)] >= ann), None)
            for method, values in methods.items()
        }
        earliest = min(((t, m) for m, t in reached.items() if t is not None), default=(None, None))
        met = earliest[0] is not None
        line = (
            f"MNIST target (SNN >= ANN {100 * ann:.2f} % at some T <= 8): {'MET' if met else 'NOT MET'}; "
            + (
                f"{earliest[1]} reaches it at T={earliest[0]}"
                if met
                else f"best is {best_method} with {100 * best_accuracy:.2f} % at T={best_step}"
            )
            + "."
        )
        return {
            "target": "best method's SNN accuracy >= ANN accuracy at some T <= 8",
            "met": met,
            "first_step_reaching_ann": reached,
            "best_method_at_t_le_8": best_method,
            "best_accuracy_at_t_le_8": best_accuracy,
            "best_step_at_t_le_8": best_step,
            "line": line,
        }
    result = {"target": "best method's loss (ANN - SNN, percentage points) at T=16 and T=64", "loss_pp": {}}
    parts = []
    for t in (16, 64):
        available = {m: v["accuracy_at"][str(t)] for m, v in methods.items() if str(t) in v["accuracy_at"]}
        if not available:
            result["loss_pp"][str(t)] = None
            parts.append(f"T={t}: not simulated")
            continue
        best = max(available, key=available.get)
        loss = 100 * (ann - available[best])
        result["loss_pp"][str(t)] = {"method": best, "snn_accuracy": available[best], "loss_pp": loss}
        parts.append(f"T={t}: {best} {100 * available[best]:.2f} % (loss {loss:+.2f} pp)")
    result["line"] = f"CIFAR-10 target (best loss vs ANN {100 * ann:.2f} %): " + "; ".join(parts) + "."
    return result


def dataset_table(entry: dict) -> str:
    steps = entry["report_steps"]
    header = ["method", "ANN acc"] + [f"T={t}" for t in steps] + ["spikes/img", "events/img", "convert s", "eval s"]
    rows = []
    for method, values in entry["methods"].items():
        rows.append(
            [method, f"{100 * entry['ann_accuracy']:.2f}"]
            + [f"{100 * values['accuracy_at'][str(t)]:.2f}" for t in steps]
            + [
                f"{values['spikes_per_image']:.0f}",
                f"{values['events_per_image']:.0f}" if values["events_per_image"] is not None else "-",
                f"{values['conversion_time_s']:.1f}",
                f"{values['evaluation_time_s']:.1f}",
            ]
        )
    return markdown_table(header, rows)


def write_markdown(report: dict, path: pathlib.Path) -> pathlib.Path:
    lines = [
        "# Conversion methods compared",
        "",
        f"Generated by `benchmarks/methods_comparison.py` on {report['date']} "
        f"({report['machine']['cpu_count']} CPUs, TensorFlow {report['machine']['tensorflow']}, "
        f"spkeras {report.get('spkeras', {}).get('commit') or report.get('spkeras', {}).get('version', '?')}); "
        f"one simulation of T={report['settings']['timesteps']} steps per method, analog input, "
        f"{CALIBRATION_IMAGES} calibration images. Accuracies in %; spikes and events are per image over all T steps; "
        "convert/eval seconds are wall times on a machine shared with other jobs (indicative only).",
        "",
    ]
    for name, entry in report["datasets"].items():
        limit = entry["test_limit"]
        lines += [
            f"## {TITLES[name]}",
            "",
            f"Test images: {entry['test_images']} "
            f"({'all' if limit is None else f'limit {limit}'}); date {report['date']}. "
            f"Model: {entry['model']} ({entry['training']['epochs']} epochs, "
            f"{entry['training']['train_images']} training images). "
            f"Test images per class: {entry.get('test_images_per_class', '?')}.",
            "",
            dataset_table(entry),
            "",
            entry["targets"].get("line", ""),
            "",
        ]
    lines.append(f"![accuracy vs T]({path.with_suffix('.png').name})")
    text = "\n".join(lines) + "\n"
    temporary = path.with_suffix(".md.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)
    return path


def plot(report: dict, path: pathlib.Path) -> pathlib.Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(report["datasets"])
    figure, axes = plt.subplots(1, len(names), figsize=(6.5 * len(names), 4.5), squeeze=False)
    for axis, name in zip(axes[0], names):
        entry = report["datasets"][name]
        for method, values in entry["methods"].items():
            accuracy = 100 * np.asarray(values["accuracy_per_step"])
            axis.plot(np.arange(1, len(accuracy) + 1), accuracy, label=method, linewidth=1.4)
        axis.axhline(100 * entry["ann_accuracy"], color="black", linestyle="--", linewidth=1, label="ANN")
        axis.set_xscale("log", base=2)
        axis.set_xlabel("time steps T")
        axis.set_ylabel("accuracy (%)")
        axis.set_title(f"{TITLES[name]} ({entry['test_images']} test images)")
        axis.set_ylim(80.0 if name == "mnist" else 0.0, min(100.5, 100 * entry["ann_accuracy"] + 3))
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    temporary = path.with_name(path.stem + ".tmp.png")
    figure.savefig(temporary, dpi=120)
    plt.close(figure)
    os.replace(temporary, path)
    return path


def spkeras_source() -> dict:
    """Version and location of the imported spkeras, with the git commit of its checkout when there is one."""
    location = pathlib.Path(spkeras.__file__).resolve().parent
    commit = None
    marker = location.parent / "COMMIT"  # a snapshot made with `git archive` may carry its commit here
    if marker.is_file():
        commit = marker.read_text().strip()
    else:
        try:
            commit = subprocess.run(
                ["git", "-C", str(location), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            pass
    return {"version": spkeras.__version__, "path": str(location), "commit": commit}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    parser.add_argument("--methods", nargs="+", default=spkeras.methods.available_methods())
    parser.add_argument("--timesteps", type=int, default=256)
    parser.add_argument("--mnist-limit", type=int, default=None, help="use only the first N MNIST test images")
    parser.add_argument("--cifar-limit", type=int, default=None, help="use only the first N CIFAR test images")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--output-dir", default=str(RESULTS))
    arguments = parser.parse_args(argv)
    unknown = sorted(set(arguments.methods) - set(spkeras.methods.available_methods()))
    if unknown:
        parser.error(f"unknown method(s) {unknown}; available: {spkeras.methods.available_methods()}")
    output = pathlib.Path(arguments.output_dir)
    output.mkdir(parents=True, exist_ok=True)

    report = {
        "date": datetime.date.today().isoformat(),
        "settings": {
            "datasets": arguments.datasets,
            "methods": arguments.methods,
            "timesteps": arguments.timesteps,
            "mnist_limit": arguments.mnist_limit,
            "cifar_limit": arguments.cifar_limit,
            "batch_size": arguments.batch_size,
            "calibration_images": CALIBRATION_IMAGES,
            "seed": SEED,
            "encoding": "analog",
        },
        "machine": machine(),
        "spkeras": spkeras_source(),
        "datasets": {},
    }
    for name in arguments.datasets:
        entry = run_dataset(name, arguments, report)
        print(f"\n## {TITLES[name]} ({entry['test_images']} test images)\n")
        print(dataset_table(entry))
        print(f"\n{entry['targets'].get('line', '')}\n", flush=True)
    report["targets"] = {name: entry["targets"] for name, entry in report["datasets"].items()}
    json_path = write_json(report, output / "methods_comparison.json")
    markdown_path = write_markdown(report, output / "methods_comparison.md")
    png_path = plot(report, output / "methods_comparison.png")
    partial = output / "methods_comparison.partial.json"
    if partial.exists():
        partial.unlink()
    print(f"wrote {json_path}, {markdown_path}, {png_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
