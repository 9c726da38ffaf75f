"""Low latency: post-conversion calibration (issue 15) on three reference networks, T = 2 ... 64.

Usage:
    python benchmarks/low_latency.py [--models resnet vgg mnist] [--methods ecc robust cos:2]
        [--modes none threshold bias potential light advanced] [--timesteps 2 4 8 16 32 64]
        [--cifar-limit 1000] [--mnist-limit N] [--batch-size 100] [--resume] [--analysis auto|none|all]
        [--output-dir benchmarks/results]

Networks (trained once, seeded, cached in benchmarks/cache/ by ``methods_comparison.reference_model``):

- ``vgg``: the CIFAR-10 VGG-small of benchmarks/methods_comparison.py (4 convolutions);
- ``mnist``: the MNIST CNN of benchmarks/methods_comparison.py (2 convolutions);
- ``resnet``: a width-reduced ResNet-8 defined here (:func:`cifar_resnet8`): Conv(16)-BN-ReLU, then three basic
  blocks of 16, 32 and 64 channels (the first with an identity shortcut, the others stride 2 with a 1×1
  Conv + BN projection shortcut, merged by ``keras.layers.Add``), GlobalAveragePooling2D, Dense(10); 9
  convolutions. Trained with the recipe of ``methods_comparison.train_cifar`` (same augmentation, Adam with
  cosine decay, epochs and seed) on the 4,000 images of ../shared/data/cifar10_subset.npz.

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
import logging
import os
import pathlib
import sys
import time
from unittest import mock

import keras
import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import methods_comparison_networks  # noqa: E402
from common import RESULTS, load_cifar, load_mnist, machine, markdown_table, write_json  # noqa: E402
from methods_comparison_networks import CALIBRATION_IMAGES, SEED, reference_model  # noqa: E402
from methods_comparison_report import spkeras_source  # noqa: E402

import spkeras  # noqa: E402
from spkeras.calibration import modes as calibration_modes  # noqa: E402
from spkeras.calibration.modes import rates  # noqa: E402
from spkeras.conversion.pipeline import fold_model  # noqa: E402
from spkeras.layers import IntegrateAndFire  # noqa: E402

MODELS = ("resnet", "vgg", "mnist")
TITLES = {"resnet": "CIFAR-10 ResNet-8 (16/32/64)", "vgg": "CIFAR-10 VGG-small", "mnist": "MNIST CNN"}
#: The cache name used by methods_comparison_networks.reference_model (the VGG and MNIST caches are shared with it).
CACHE_NAMES = {"resnet": "cifar_resnet8", "vgg": "cifar", "mnist": "mnist"}
TIMESTEPS = (2, 4, 8, 16, 32, 64)
BASE_MODES = ("none", "threshold", "bias", "potential", "light", "advanced")
#: (T, maximum loss in percentage points) per network.
TARGETS = {"resnet": ((32, 1.0), (16, 3.0)), "vgg": ((8, 1.0), (16, 0.3)), "mnist": ((4, 0.2),)}
ANALYSIS_IMAGES = 500


def available_modes() -> list[str]:
    """The benchmark's modes: none, the single modes, the two pipelines, and "per_step" (alone and after the
    threshold search, "threshold+per_step") once it exists."""
    extra = [mode for mode in calibration_modes.available_modes() if mode not in BASE_MODES]
    return list(BASE_MODES) + extra + [f"threshold+{mode}" for mode in extra]


def calibrate_argument(mode: str):
    """The ``calibrate`` argument of a benchmark mode: None, a mode or pipeline name, or a tuple ("a+b")."""
    if mode == "none":
        return None
    return tuple(mode.split("+")) if "+" in mode else mode


# --- the ResNet -------------------------------------------------------------------------------------------


def cifar_resnet8(widths=(16, 32, 64)) -> keras.Model:
    """ResNet-8 for 32×32 images, width-reduced: 7 3×3 convolutions and 2 1×1 projection shortcuts."""

    def conv_bn(x, filters, kernel, strides=1):
        x = keras.layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False)(x)
        return keras.layers.BatchNormalization()(x)

    inputs = keras.Input((32, 32, 3))
    x = keras.layers.ReLU()(conv_bn(inputs, widths[0], 3))
    for stage, filters in enumerate(widths):
        strides = 1 if stage == 0 else 2
        y = keras.layers.ReLU()(conv_bn(x, filters, 3, strides))
        y = conv_bn(y, filters, 3)
        shortcut = x if strides == 1 and x.shape[-1] == filters else conv_bn(x, filters, 1, strides)
        x = keras.layers.ReLU()(keras.layers.Add()([y, shortcut]))
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(10)(x)
    return keras.Model(inputs, outputs, name="cifar_resnet8")


def load_network(name: str, data) -> tuple[keras.Model, dict]:
    """The cached (or freshly trained) network; the ResNet is trained by train_cifar with its builder swapped."""
    if name != "resnet":
        return reference_model(CACHE_NAMES[name], data)
    with mock.patch.object(methods_comparison_networks, "cifar_vgg_small", cifar_resnet8):
        model, info = reference_model(CACHE_NAMES[name], data)
    info.setdefault("architecture", "ResNet-8, widths 16/32/64, identity + 1x1-conv-BN projection shortcuts")
    return model, info


# --- one conversion ---------------------------------------------------------------------------------------


class _Capture(logging.Handler):
    """Keeps the calibration's log lines (per-layer rate error before/after, λ ranges)."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def method_arguments(method: str) -> dict:
    """``spkeras.convert`` arguments of a ``--methods`` entry: a method name, or ``cos:ρ`` / ``srp:ρ`` for the
    pre-simulating methods with ``presim_steps=ρ`` (the ρ steps count in T).

    Examples:
        >>> method_arguments("cos:2")
        {'method': 'cos', 'presim_steps': 2}
    """
    name, _, rho = method.partition(":")
    if not rho:
        return {"method": name}
    if name not in ("cos", "srp") or not rho.isdigit() or int(rho) < 1:
        raise ValueError(f"--methods: METHOD:RHO needs METHOD cos or srp and RHO >= 1. Received: {method!r}.")
    return {"method": name, "presim_steps": int(rho)}


def convert_and_evaluate(model, calibration, x_test, y_test, method, mode, timesteps, batch_size) -> dict:
    capture = _Capture()
    calibration_logger = logging.getLogger(rates.__name__)
    previous_level = calibration_logger.level
    calibration_logger.setLevel(logging.INFO)
    calibration_logger.addHandler(capture)
    load_before = os.getloadavg()[0]
    try:
        started = time.perf_counter()
        snn = spkeras.convert(
            model, calibration, timesteps=timesteps, calibrate=calibrate_argument(mode), **method_arguments(method)
        )
        conversion_time = time.perf_counter() - started
    finally:
        calibration_logger.removeHandler(capture)
        calibration_logger.setLevel(previous_level)
    result = spkeras.evaluate(snn, x_test, y_test, timesteps=timesteps, batch_size=batch_size)
    return {
        "accuracy": result.accuracy_at(timesteps),
        "spikes_per_image": result.spikes_per_image(),
        "synaptic_operations_per_image": spkeras.metrics.summarize(snn, result)["synaptic_operations"],
        "spikes_per_image_per_layer": result.spikes_per_layer(),
        "conversion_time_s": conversion_time,
        "evaluation_time_s": result.wall_time,
        "load_average_1min": load_before,
        "calibration_log": capture.lines,
        "spkeras_commit": spkeras_source().get("commit"),
    }


# --- per-layer analysis -------------------------------------------------------------------------------------


def neuron_layer_names(snn: keras.Model) -> list[str]:
    return [layer.name for layer in snn.layers if isinstance(layer, IntegrateAndFire)]


def layer_errors(model, folded, relus, calibration, x, method, mode, timesteps, batch_size) -> dict:
    """Per spiking layer: rate error of the SNN (calibrated with ``mode`` for T) against the folded ANN.

    Converted with ``spike_value="threshold"`` (same dynamics as the unit parametrisation, weights unchanged),
    so that θ of each neuron is its λ: the ANN's rate is ``clip(a/θ, 0, 1)`` and the SNN's is its spike count / T.
    """
    snn = spkeras.convert(
        model,
        calibration,
        **method_arguments(method),
        timesteps=timesteps,
        calibrate=calibrate_argument(mode),
        spike_value="threshold",
    )
    names = neuron_layer_names(snn)
    if len(names) != len(relus):
        raise RuntimeError(f"{len(names)} spiking layers for {len(relus)} ReLUs of the folded ANN")
    thresholds = [np.asarray(keras.ops.convert_to_numpy(snn.get_layer(n).threshold), "float64") for n in names]
    values = spkeras.simulate.record(snn, x, timesteps, batch_size=batch_size)
    probe = keras.Model(folded.inputs, [layer.output for layer in relus])
    activations = probe.predict(x, batch_size=batch_size, verbose=0)
    activations = activations if isinstance(activations, list) else [activations]
    rows = []
    for name, relu, theta, activation in zip(names, relus, thresholds, activations):
        snn_rate = values[name] / theta
        ann_rate = np.clip(activation / theta, 0.0, 1.0)
        mean_ann, mean_snn = ann_rate.mean(axis=0), snn_rate.mean(axis=0)
        per_channel = (mean_ann - mean_snn).reshape(-1, mean_ann.shape[-1]).mean(axis=0)
        # In activation units: what the next layer receives (θ·rate) against the ANN's unclipped activation,
        # relative to the layer's mean activation, so that modes with different λ compare.
        passed = snn_rate * theta
        scale = max(float(activation.mean()), 1e-12)
        rows.append(
            {
                "layer": name,
                "ann_layer": relu.name,
                "mean_activation": float(activation.mean()),
                "relative_mean_error": float(np.mean(np.abs(activation.mean(axis=0) - passed.mean(axis=0))) / scale),
                "relative_per_image_error": float(np.mean(np.abs(activation - passed)) / scale),
                "mean_theta": float(np.mean(theta)),
                "mean_ann_rate": float(ann_rate.mean()),
                "mean_snn_rate": float(snn_rate.mean()),
                # |E[r_ANN] − E[r_SNN]| per neuron, averaged: what bias/potential calibration tunes.
                "mean_rate_error": float(np.mean(np.abs(mean_ann - mean_snn))),
                # E|r_ANN − r_SNN| over images and neurons: the per-image error that the readout sees.
                "per_image_error": float(np.mean(np.abs(ann_rate - snn_rate))),
                "signed_channel_error_max": float(np.max(np.abs(per_channel))),
                "saturated_fraction_snn": float(np.mean(snn_rate >= 1.0 - 1e-6)),
                "clipped_fraction_ann": float(np.mean(activation > theta)),
            }
        )
    logits = folded.predict(x, batch_size=batch_size, verbose=0)
    agreement = float(np.mean(np.argmax(values["output"], -1) == np.argmax(logits, -1)))
    return {"layers": rows, "prediction_agreement_with_ann": agreement}


def run_analysis(name, model, calibration, method, timesteps, modes, batch_size) -> dict:
    folded = fold_model(model)
    relus = [layer for layer in folded.layers if isinstance(layer, keras.layers.ReLU)]
    x = calibration[:ANALYSIS_IMAGES]
    entry = {"method": method, "timesteps": timesteps, "images": len(x), "modes": {}}
    for mode in modes:
        started = time.perf_counter()
        entry["modes"][mode] = layer_errors(model, folded, relus, calibration, x, method, mode, timesteps, batch_size)
        print(f"[{name}] analysis T={timesteps} {mode}: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return entry


# --- summaries ----------------------------------------------------------------------------------------------


def best_at(entry: dict, timesteps: int):
    """(method, mode, accuracy) of the best SNN at ``timesteps``, or None if nothing ran there."""
    best = None
    for method, modes in entry["results"].items():
        for mode, per_t in modes.items():
            value = per_t.get(str(timesteps))
            if value is not None and (best is None or value["accuracy"] > best[2]):
                best = (method, mode, value["accuracy"])
    return best


def targets(name: str, entry: dict) -> list[dict]:
    rows = []
    for timesteps, limit in TARGETS[name]:
        best = best_at(entry, timesteps)
        if best is None:
            rows.append({"timesteps": timesteps, "max_loss_pp": limit, "met": None})
            continue
        loss = 100 * (entry["ann_accuracy"] - best[2])
        rows.append(
            {
                "timesteps": timesteps,
                "max_loss_pp": limit,
                "method": best[0],
                "mode": best[1],
                "snn_accuracy": best[2],
                "loss_pp": loss,
                "met": bool(loss <= limit + 1e-9),
            }
        )
    return rows


def never_worse(report: dict) -> dict:
    """Per method and mode: the smallest (mode − none) accuracy difference over every network and T that ran."""
    summary = {}
    for name, entry in report["models"].items():
        for method, modes in entry["results"].items():
            baseline = modes.get("none", {})
            for mode, per_t in modes.items():
                if mode == "none":
                    continue
                for t, value in per_t.items():
                    if t not in baseline:
                        continue
                    difference = 100 * (value["accuracy"] - baseline[t]["accuracy"])
                    item = summary.setdefault(method, {}).setdefault(
                        mode, {"worst_pp": None, "worst_at": None, "compared": 0, "models": []}
                    )
                    item["compared"] += 1
                    if name not in item["models"]:
                        item["models"].append(name)
                    if item["worst_pp"] is None or difference < item["worst_pp"]:
                        item["worst_pp"], item["worst_at"] = difference, f"{name} T={t}"
    for modes in summary.values():
        for item in modes.values():
            item["never_worse"] = item["worst_pp"] is not None and item["worst_pp"] >= 0.0
    return summary


def accuracy_table(entry: dict) -> str:
    steps = entry["timesteps"]
    ann = entry["ann_accuracy"]
    header = ["method", "calibrate"] + [f"T={t}" for t in steps]
    rows = []
    for method, modes in entry["results"].items():
        for mode, per_t in modes.items():
            cells = []
            for t in steps:
                value = per_t.get(str(t))
                cells.append(
                    "-" if value is None else f"{100 * value['accuracy']:.2f} ({100 * (value['accuracy'] - ann):+.1f})"
                )
            rows.append([method, mode] + cells)
    best = []
    for t in steps:
        found = best_at(entry, t)
        best.append("-" if found is None else f"**{100 * found[2]:.2f}** ({found[1]})")
    rows.append(["best", ""] + best)
    return markdown_table(header, rows)


def cost_table(entry: dict) -> str:
    steps = entry["timesteps"]
    header = ["method", "calibrate"] + [f"T={t}" for t in steps]
    rows = []
    for method, modes in entry["results"].items():
        for mode, per_t in modes.items():
            cells = []
            for t in steps:
                value = per_t.get(str(t))
                cells.append(
                    "-" if value is None else f"{value['spikes_per_image']:,.0f} / {value['conversion_time_s']:.1f} s"
                )
            rows.append([method, mode] + cells)
    return markdown_table(header, rows)


def equal_budget(entry: dict, method: str) -> dict:
    """Accuracy at equal spike budget: per mode, the best accuracy of any of its cells (any T it was calibrated
    and simulated for) that spends at most the spikes per image of the uncalibrated network at each T.

    Returns ``{"budgets": {T: spikes of "none"}, "modes": {mode: {T: (accuracy, T used, spikes) or None}}}``;
    no interpolation between cells, so every number is a measured operating point.
    """
    modes = entry["results"].get(method, {})
    baseline = modes.get("none", {})
    budgets = {int(t): value["spikes_per_image"] for t, value in baseline.items()}
    table = {}
    for mode, per_t in modes.items():
        row = {}
        for t, budget in sorted(budgets.items()):
            within = [(v["accuracy"], int(s), v["spikes_per_image"]) for s, v in per_t.items()]
            within = [cell for cell in within if cell[2] <= budget * (1 + 1e-9)]
            row[t] = max(within) if within else None
        table[mode] = row
    return {"budgets": budgets, "modes": table}


def budget_table(entry: dict, method: str) -> str:
    budget = equal_budget(entry, method)
    steps = sorted(budget["budgets"])
    header = ["calibrate", "spikes vs none at equal T"] + [
        f"≤ {budget['budgets'][t]:,.0f} (none, T={t})" for t in steps
    ]
    rows = []
    modes = entry["results"][method]
    for mode, row in budget["modes"].items():
        ratios = [
            modes[mode][str(t)]["spikes_per_image"] / modes["none"][str(t)]["spikes_per_image"]
            for t in steps
            if str(t) in modes[mode] and modes["none"][str(t)]["spikes_per_image"] > 0
        ]
        spread = f"{min(ratios):.2f}–{max(ratios):.2f}×" if ratios else "-"
        cells = ["-" if row[t] is None else f"{100 * row[t][0]:.2f} (T={row[t][1]})" for t in steps]
        rows.append([mode, spread] + cells)
    return markdown_table(header, rows)


def analysis_markdown(report: dict) -> str:
    lines = [
        "# Low latency: per-layer rate error against the ANN",
        "",
        f"Generated by `benchmarks/low_latency.py` on {report['date']} for every target that was missed. Each mode "
        f"converts and calibrates for T, with spikes carrying θ = λ (same dynamics as the default parametrisation), "
        f"and is simulated on the first {ANALYSIS_IMAGES} calibration images. Per spiking layer, what it passes on "
        "(θ × spikes per step) against the BN-folded ANN's activation `a` of the same layer, relative to the "
        "layer's mean activation: *mean err* = mean over neurons of |E[a] − E[θ·r]| (what bias/potential "
        "calibration corrects), *per-image err* = E|a − θ·r| over images and neurons (what the next layer "
        "sees), both in % of the mean activation. *θ/max*: mean threshold against the uncalibrated one. "
        "*agree* = share of images whose SNN prediction equals the ANN's.",
        "",
    ]
    for name, analyses in report.get("analysis", {}).items():
        for entry in analyses.values():
            modes = list(entry["modes"])
            lines += [f"## {TITLES[name]}, {entry['method']}, T = {entry['timesteps']}", ""]
            header = ["layer", "mean a"] + [f"{m}: mean / per-image err (θ/max)" for m in modes]
            reference = entry["modes"][modes[0]]["layers"]
            rows = []
            for index, first in enumerate(reference):
                cells = [first["layer"], f"{first['mean_activation']:.3f}"]
                for mode in modes:
                    row = entry["modes"][mode]["layers"][index]
                    cells.append(
                        f"{100 * row['relative_mean_error']:.1f} / {100 * row['relative_per_image_error']:.1f} % "
                        f"({row['mean_theta'] / max(first['mean_theta'], 1e-12):.2f})"
                    )
                rows.append(cells)
            rows.append(
                ["agree", ""] + [f"{100 * entry['modes'][m]['prediction_agreement_with_ann']:.1f} %" for m in modes]
            )
            lines += [markdown_table(header, rows), ""]
            notes = entry.get("notes")
            if notes:
                lines += [notes, ""]
    return "\n".join(lines) + "\n"


def write_markdown(report: dict, path: pathlib.Path) -> pathlib.Path:
    settings = report["settings"]
    commits = {}
    for entry in report["models"].values():
        for modes in entry["results"].values():
            for mode, per_t in modes.items():
                for value in per_t.values():
                    commits.setdefault(value.get("spkeras_commit") or "?", set()).add(mode)
    if len(commits) > 1:
        version = "commits " + "; ".join(f"{c} ({', '.join(sorted(m))})" for c, m in sorted(commits.items()))
    else:
        version = report["spkeras"].get("commit") or report["spkeras"].get("version")
    lines = [
        "# Low latency: post-conversion calibration",
        "",
        f"Generated by `benchmarks/low_latency.py` on {report['date']} ({report['machine']['cpu_count']} CPUs shared "
        f"with other jobs, TensorFlow {report['machine']['tensorflow']}, spkeras {version}). "
        "Every cell is its own conversion, "
        f"calibrated for that T on {settings['calibration_images']} training images and simulated for exactly T "
        "steps (analog input). Accuracy in %, with the difference to the ANN on the same images in pp.",
        "",
    ]
    for name, entry in report["models"].items():
        lines += [
            f"## {TITLES[name]}",
            "",
            f"ANN accuracy **{100 * entry['ann_accuracy']:.2f} %** on {entry['test_images']} test images "
            f"({entry['test_selection']}); model `{entry['model']}`, {entry['parameters']:,} parameters, "
            f"{entry['spiking_layers']} spiking layers; trained {entry['training'].get('epochs')} epochs on "
            f"{entry['training'].get('train_images')} images"
            + (
                f" in {entry['training']['train_time_s']:.0f} s"
                if entry["training"].get("train_time_s") is not None
                else ""
            )
            + ".",
            "",
            accuracy_table(entry),
            "",
            "Spikes per image over the T steps / conversion time (s):",
            "",
            cost_table(entry),
            "",
        ]
        for method in entry["results"]:
            if "none" not in entry["results"][method]:
                continue
            lines += [
                f"Accuracy at equal spike budget ({method}): the best accuracy (%) of each mode, at any T it was "
                "calibrated and simulated for, within the spikes per image that the uncalibrated network spends "
                "at each T (column); '-': every T of the mode spends more. Second column: the mode's spikes per "
                "image over the uncalibrated network's at the same T (range over T).",
                "",
                budget_table(entry, method),
                "",
            ]
        for row in entry.get("targets", []):
            if row["met"] is None:
                lines.append(f"- Target T={row['timesteps']} (loss ≤ {row['max_loss_pp']} pp): not run.")
            else:
                lines.append(
                    f"- Target T={row['timesteps']} (loss ≤ {row['max_loss_pp']} pp): "
                    f"**{'met' if row['met'] else 'missed'}** — best {row['method']}/{row['mode']} "
                    f"{100 * row['snn_accuracy']:.2f} %, loss {row['loss_pp']:+.2f} pp."
                )
        lines.append("")
    summary = report.get("never_worse", {})
    if summary:
        lines += ["## Never worse than no calibration?", ""]
        rows = []
        for method, modes in summary.items():
            for mode, item in modes.items():
                rows.append(
                    [
                        method,
                        mode,
                        "yes" if item["never_worse"] else "no",
                        f"{item['worst_pp']:+.2f}",
                        item["worst_at"],
                        f"{item['compared']} ({', '.join(item['models'])})",
                    ]
                )
        lines += [
            markdown_table(
                ["method", "calibrate", "never worse", "worst Δ vs none (pp)", "at", "cells compared"], rows
            ),
            "",
        ]
    text = "\n".join(lines) + "\n"
    temporary = path.with_suffix(".md.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)
    return path


# --- main ----------------------------------------------------------------------------------------------------


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
