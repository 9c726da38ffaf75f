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
import math
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from common import RESULTS, load_cifar, load_mnist, machine, write_json  # noqa: E402
from methods_comparison_networks import CALIBRATION_IMAGES, SEED, reference_model  # noqa: E402
from methods_comparison_networks import cifar_vgg_small as cifar_vgg_small  # noqa: E402 (re-exported)
from methods_comparison_networks import mnist_cnn as mnist_cnn  # noqa: E402 (re-exported)
from methods_comparison_report import TITLES, dataset_table, plot, spkeras_source, targets, write_markdown  # noqa: E402

import spkeras  # noqa: E402

# The two builders are re-exported: benchmarks/calibration_cost.py, benchmarks/nir_export.py and tests/benchmarks
# import them from here.

DATASETS = ("mnist", "cifar")


# --- data ---------------------------------------------------------------------------------------------------


def load_dataset(name: str) -> dict[str, np.ndarray]:
    return load_mnist() if name == "mnist" else load_cifar()


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
