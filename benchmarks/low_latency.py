"""Low latency: post-conversion calibration (issue 15) on three reference networks, T = 2 ... 64.

Usage:
    python benchmarks/low_latency.py [--models resnet vgg mnist] [--methods ecc robust cos:2]
        [--modes none threshold bias potential light advanced] [--timesteps 2 4 8 16 32 64]
        [--cifar-limit 1000] [--mnist-limit N] [--batch-size 100] [--resume] [--analysis auto|none|all]
        [--output-dir benchmarks/results]

Networks (trained once, seeded, cached in benchmarks/cache/ by ``methods_comparison_networks.reference_model``):

- ``vgg``: the CIFAR-10 VGG-small of benchmarks/methods_comparison.py (4 convolutions);
- ``mnist``: the MNIST CNN of benchmarks/methods_comparison.py (2 convolutions);
- ``resnet``: a width-reduced ResNet-8 defined in low_latency_networks.py (:func:`cifar_resnet8`):
  Conv(16)-BN-ReLU, then three basic blocks of 16, 32 and 64 channels (the first with an identity shortcut, the
  others stride 2 with a 1×1 Conv + BN projection shortcut, merged by ``keras.layers.Add``),
  GlobalAveragePooling2D, Dense(10); 9 convolutions. Trained with the recipe of
  ``methods_comparison_networks.train_cifar`` (same augmentation, Adam with cosine decay, epochs and seed) on the
  4,000 images of ../shared/data/cifar10_subset.npz.

For every network, method, T and calibration mode the network is converted *and calibrated for that T* with
the same 1,000 calibration images (a seeded choice of training images, as in methods_comparison.py), then
simulated for exactly T steps on the test images (CIFAR: the first ``--cifar-limit`` of the 4,593 test images,
default 1,000; MNIST: all 10,000 or the first ``--mnist-limit``): accuracy at T, spikes per image over the T
steps, conversion and evaluation wall times. The ANN is evaluated on the same images. Results go to
``low_latency.json`` (written atomically after every conversion, so an interrupted run keeps what it did;
``--resume`` continues it) and ``low_latency.md`` in the output directory.

Targets (issue 15, loss = ANN − best SNN on the same images, in percentage points): ResNet ≤ 1 at T=32 and ≤ 3
at T=16; VGG-small ≤ 1 at T=8 and ≤ 0.3 at T=16; MNIST ≤ 0.2 at T=4. For a missed target, ``--analysis auto``
(default) measures the per-layer rate error against the BN-folded ANN for each mode at that T and writes
``low_latency_analysis.md``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from common import RESULTS, load_cifar, load_mnist, machine, write_json  # noqa: E402
from low_latency_measure import (  # noqa: E402
    available_modes,
    convert_and_evaluate,
    method_arguments,
    neuron_layer_names,
    run_analysis,
)
from low_latency_measure import layer_errors as layer_errors  # noqa: E402 (re-exported)
from low_latency_networks import TITLES, load_network  # noqa: E402
from low_latency_networks import cifar_resnet8 as cifar_resnet8  # noqa: E402 (re-exported)
from low_latency_report import accuracy_table, analysis_markdown, write_markdown  # noqa: E402
from low_latency_summary import never_worse, targets  # noqa: E402
from methods_comparison_networks import CALIBRATION_IMAGES, SEED  # noqa: E402
from methods_comparison_report import spkeras_source  # noqa: E402

import spkeras  # noqa: E402

# cifar_resnet8 and layer_errors are re-exported: benchmarks/calibration_cost.py, nir_export.py, public_resnet20.py
# and tests/benchmarks import them from here.

MODELS = ("resnet", "vgg", "mnist")
TIMESTEPS = (2, 4, 8, 16, 32, 64)


# --- main -----------------------------------------------------------------------------------------------------


def prepare(name: str, arguments, report: dict):
    data = load_mnist() if name == "mnist" else load_cifar()
    limit = arguments.mnist_limit if name == "mnist" else arguments.cifar_limit
    x_test, y_test = data["x_test"][:limit], data["y_test"][:limit]
    calibration = data["x_train"][
        np.sort(np.random.default_rng(SEED).choice(len(data["x_train"]), CALIBRATION_IMAGES, replace=False))
    ]
    model, training = load_network(name, data)
    logits = model.predict(x_test, batch_size=500, verbose=0)
    ann_accuracy = float(np.mean(np.argmax(logits, -1) == y_test))
    print(f"[{name}] ANN accuracy {ann_accuracy:.4f} on {len(x_test)} test images", file=sys.stderr, flush=True)
    entry = report["models"].get(name)
    if entry is None or entry["test_images"] != len(x_test) or abs(entry["ann_accuracy"] - ann_accuracy) > 1e-9:
        probe = spkeras.convert(model, calibration[:100], method="ecc", timesteps=8)
        entry = {
            "model": model.name,
            "parameters": int(model.count_params()),
            "spiking_layers": len(neuron_layer_names(probe)),
            "training": training,
            "test_images": len(x_test),
            "test_selection": "all" if limit is None or limit >= len(data["x_test"]) else f"the first {limit}",
            "test_images_per_class": np.bincount(y_test, minlength=10).tolist(),
            "calibration_images": len(calibration),
            "ann_accuracy": ann_accuracy,
            "results": {},
        }
        report["models"][name] = entry
    entry["timesteps"] = sorted(set(entry.get("timesteps", [])) | set(arguments.timesteps))
    return model, calibration, x_test, y_test, entry


def save(report: dict, output: pathlib.Path):
    for name, entry in report["models"].items():
        entry["targets"] = targets(name, entry)
    report["never_worse"] = never_worse(report)
    write_json(report, output / "low_latency.json")
    write_markdown(report, output / "low_latency.md")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--methods", nargs="+", default=["ecc"])
    parser.add_argument("--modes", nargs="+", default=available_modes())
    parser.add_argument("--timesteps", nargs="+", type=int, default=list(TIMESTEPS))
    parser.add_argument("--cifar-limit", type=int, default=1000, help="the first N CIFAR test images (default 1000)")
    parser.add_argument("--mnist-limit", type=int, default=None, help="the first N MNIST test images (default all)")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--resume", action="store_true", help="keep the results already in low_latency.json")
    parser.add_argument(
        "--analysis",
        choices=("auto", "none", "all"),
        default="auto",
        help="per-layer rate errors for missed targets (auto), every target (all) or none",
    )
    parser.add_argument("--output-dir", default=str(RESULTS))
    parser.add_argument("--report-only", action="store_true", help="rewrite low_latency.md from the JSON, run nothing")
    arguments = parser.parse_args(argv)
    if arguments.report_only:
        output = pathlib.Path(arguments.output_dir)
        write_markdown(json.loads((output / "low_latency.json").read_text()), output / "low_latency.md")
        return 0
    unknown = sorted(set(arguments.modes) - set(available_modes()))
    if unknown:
        parser.error(f"unknown mode(s) {unknown}; available: {available_modes()}")
    unknown = sorted(
        {method_arguments(m)["method"] for m in arguments.methods} - set(spkeras.methods.available_methods())
    )
    if unknown:
        parser.error(f"unknown method(s) {unknown}; available: {spkeras.methods.available_methods()}")
    output = pathlib.Path(arguments.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    path = output / "low_latency.json"
    report = json.loads(path.read_text()) if arguments.resume and path.is_file() else {"models": {}}
    report.update(
        {
            "date": datetime.date.today().isoformat(),
            "machine": machine(),
            "spkeras": spkeras_source(),
            "available_calibration_modes": available_modes(),
        }
    )
    report["settings"] = {
        "calibration_images": CALIBRATION_IMAGES,
        "seed": SEED,
        "batch_size": arguments.batch_size,
        "cifar_limit": arguments.cifar_limit,
        "mnist_limit": arguments.mnist_limit,
        "encoding": "analog",
    }
    report.setdefault("runs", []).append(
        {"started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), "argv": sys.argv[1:]}
    )
    prepared = {}
    for name in arguments.models:
        model, calibration, x_test, y_test, entry = prepare(name, arguments, report)
        prepared[name] = (model, calibration)
        for method in arguments.methods:
            for timesteps in arguments.timesteps:
                for mode in arguments.modes:
                    per_t = entry["results"].setdefault(method, {}).setdefault(mode, {})
                    if str(timesteps) in per_t:
                        continue
                    value = convert_and_evaluate(
                        model, calibration, x_test, y_test, method, mode, timesteps, arguments.batch_size
                    )
                    per_t[str(timesteps)] = value
                    print(
                        f"[{name}] {method} T={timesteps} {mode}: {100 * value['accuracy']:.2f} % "
                        f"(ANN {100 * entry['ann_accuracy']:.2f}), {value['spikes_per_image']:.0f} spikes, "
                        f"convert {value['conversion_time_s']:.1f} s, evaluate {value['evaluation_time_s']:.1f} s",
                        file=sys.stderr,
                        flush=True,
                    )
                    save(report, output)
        print(f"\n## {TITLES[name]} (ANN {100 * entry['ann_accuracy']:.2f} %, {entry['test_images']} images)\n")
        print(accuracy_table(entry), "\n", flush=True)
    if arguments.analysis != "none":
        for name in arguments.models:
            model, calibration = prepared[name]
            entry = report["models"][name]
            for row in entry["targets"]:
                if row["met"] is None or (arguments.analysis == "auto" and row["met"]):
                    continue
                key = f"{row['method']}_T{row['timesteps']}"
                if key in report.get("analysis", {}).get(name, {}):
                    continue
                modes = [m for m in available_modes() if m in entry["results"][row["method"]]]
                analysis = run_analysis(
                    name, model, calibration, row["method"], row["timesteps"], modes, arguments.batch_size
                )
                report.setdefault("analysis", {}).setdefault(name, {})[key] = analysis
                save(report, output)
        if report.get("analysis"):
            analysis_path = output / "low_latency_analysis.md"
            temporary = analysis_path.with_suffix(".md.tmp")
            temporary.write_text(analysis_markdown(report))
            os.replace(temporary, analysis_path)
    save(report, output)
    print(f"wrote {path} and {path.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
