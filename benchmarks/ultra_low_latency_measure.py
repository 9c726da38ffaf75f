"""What benchmarks/ultra_low_latency.py measures: SNN cells (accuracy at T, spikes, times), the per-layer rate
errors of a QCFS SNN against its ANN, and every cell of one network; not a script."""

from __future__ import annotations

import time

import keras
import numpy as np
from common import load_cifar, load_mnist
from methods_comparison_networks import SEED
from ultra_low_latency_networks import accuracy, finetune_settings, load_network, log, qcfs_layers, tuned_model
from ultra_low_latency_report import targets

import spkeras
from spkeras.layers import IntegrateAndFire

ANALYSIS_IMAGES = 300


def snn_cell(model, calibration, x, y, timesteps, batch_size, **options) -> dict:
    started = time.perf_counter()
    snn = spkeras.convert(model, calibration, timesteps=timesteps, **options)
    conversion = time.perf_counter() - started
    result = spkeras.evaluate(snn, x, y, timesteps=timesteps, batch_size=batch_size)
    return {
        "accuracy": result.accuracy_at(timesteps),
        "accuracy_per_step": [float(a) for a in result.accuracy],
        "spikes_per_image": result.spikes_per_image(),
        "conversion_time_s": conversion,
        "evaluation_time_s": result.wall_time,
    }


def rate_errors(tuned, x, timesteps: int, batch_size: int, calibration=None, calibrate=None) -> list[dict]:
    """Per QCFS layer: the SNN's mean output (θ·rate over T steps) against the QCFS ANN's activation."""
    snn = spkeras.convert(tuned, calibration, timesteps=timesteps, calibrate=calibrate, spike_value="threshold")
    spiking = [layer for layer in snn.layers if isinstance(layer, IntegrateAndFire)]
    layers = qcfs_layers(tuned)
    if len(spiking) != len(layers):
        raise RuntimeError(f"{len(spiking)} spiking layers for {len(layers)} QCFS layers")
    values = spkeras.simulate.record(snn, x, timesteps, batch_size=batch_size)
    probe = keras.Model(tuned.inputs, [layer.output for layer in layers] + [tuned.outputs[0]])
    activations = [np.asarray(a) for a in probe.predict(x, batch_size=batch_size, verbose=0)]
    rows = []
    for neuron, layer, ann in zip(spiking, layers, activations):
        snn_value = np.asarray(values[neuron.name])
        theta = np.asarray(keras.ops.convert_to_numpy(neuron.threshold), "float64")
        scale = max(float(ann.mean()), 1e-12)
        rows.append(
            {
                "layer": layer.name,
                "lambda": float(np.mean(keras.ops.convert_to_numpy(layer.threshold))),
                "theta": float(np.mean(theta)),
                "mean_ann": float(ann.mean()),
                "mean_snn": float(snn_value.mean()),
                "relative_bias": float((snn_value.mean() - ann.mean()) / scale),
                "relative_error": float(np.mean(np.abs(snn_value - ann)) / scale),
                "exact_fraction": float(np.mean(np.abs(snn_value - ann) <= 1e-4 * max(float(np.mean(theta)), 1e-6))),
            }
        )
    output = np.asarray(values["output"])
    logits = activations[-1]
    rows.append(
        {
            "layer": "output (logits)",
            "relative_error": float(np.mean(np.abs(output - logits)) / max(float(np.mean(np.abs(logits))), 1e-12)),
            "argmax_agreement": float(np.mean(output.argmax(-1) == logits.argmax(-1))),
        }
    )
    return rows


def run_model(name: str, arguments, report: dict, save) -> dict:
    data = load_mnist() if name == "mnist" else load_cifar()
    limit = arguments.mnist_limit if name == "mnist" else arguments.cifar_limit
    x_test, y_test = data["x_test"][:limit], data["y_test"][:limit]
    rng = np.random.default_rng(SEED)
    calibration = data["x_train"][
        np.sort(rng.choice(len(data["x_train"]), arguments.calibration_images, replace=False))
    ]
    model, training = load_network(name, data)
    entry = report["models"].setdefault(name, {})
    entry.update(
        model=model.name,
        training=training,
        parameters=int(model.count_params()),
        test_images=len(x_test),
        test_limit=limit,
        calibration_images=len(calibration),
    )
    entry["relu_accuracy"] = accuracy(model, x_test, y_test)
    log(f"[{name}] ReLU ANN {100 * entry['relu_accuracy']:.2f} % on {len(x_test)} test images")
    entry.setdefault("finetune", {})
    entry.setdefault("snn", {})
    steps = sorted(arguments.timesteps)
    tuned_models = {}
    for levels in arguments.mnist_levels if name == "mnist" else arguments.levels:
        settings = finetune_settings(name, levels, arguments)
        tuned, info = tuned_model(name, model, data, settings)
        tuned_models[levels] = tuned
        info = {**info, "ann_accuracy": accuracy(tuned, x_test, y_test)}
        info["loss_vs_relu_pp"] = 100 * (entry["relu_accuracy"] - info["ann_accuracy"])
        entry["finetune"][str(levels)] = info
        log(f"[{name}] QCFS ANN L={levels}: {100 * info['ann_accuracy']:.2f} % ({info['finetune_seconds']:.0f} s)")
        save()
        row = entry["snn"].setdefault(f"QCFS L={levels}", {})
        if not all(str(t) in row for t in steps):
            cell = snn_cell(tuned, None, x_test, y_test, max(steps), arguments.batch_size)
            for t in steps:
                row[str(t)] = {"accuracy": cell["accuracy_per_step"][t - 1]}
            row["simulation"] = {k: v for k, v in cell.items() if k != "accuracy"}
            log(f"[{name}] QCFS L={levels}: " + ", ".join(f"T={t} {100 * row[str(t)]['accuracy']:.1f}" for t in steps))
            save()
    if not arguments.skip_ecc:
        row = entry["snn"].setdefault(f"ecc + {arguments.ecc_mode}", {})
        for t in steps:
            if str(t) in row:
                continue
            row[str(t)] = snn_cell(
                model, calibration, x_test, y_test, t, arguments.batch_size, method="ecc", calibrate=arguments.ecc_mode
            )
            log(f"[{name}] ecc+{arguments.ecc_mode} T={t}: {100 * row[str(t)]['accuracy']:.2f} %")
            save()
    for levels, tuned in tuned_models.items():
        for mode in arguments.modes:
            data = (tuned, calibration, x_test, y_test)
            calibrated_row(entry["snn"].setdefault(f"QCFS L={levels} + {mode}", {}), data, mode, steps, arguments, save)
    for levels, tuned in tuned_models.items():
        for spec in arguments.presim:
            method, rho = presim_spec(spec)
            row = entry["snn"].setdefault(f"QCFS L={levels} + {method} ρ={rho}", {})
            if all(str(t) in row for t in steps):
                continue
            # Causal and independent of T (no data, ρ fixed): step t of one run of max(T) steps is a run of t steps.
            cell = snn_cell(
                tuned,
                None,
                x_test,
                y_test,
                max(steps),
                arguments.batch_size,
                method=method,
                base="qcfs",
                presim_steps=rho,
            )
            log(f"[{name}] QCFS L={levels}+{method} ρ={rho}: {causal_row(row, cell, steps)}")
            save()
    for levels, tuned in tuned_models.items():
        for value in arguments.signed:
            signed_rows(name, entry, levels, tuned, value, calibration, x_test, y_test, steps, arguments, save)
    entry["targets"] = targets(name, entry)
    save()
    if arguments.analysis == "all" or (arguments.analysis == "auto" and not entry["targets"]["all_met"]):
        analysis = entry.setdefault("analysis", {})
        x_rates = x_test[:ANALYSIS_IMAGES]
        for levels, tuned in tuned_models.items():
            for t in sorted({1, levels // 2, levels, 2 * levels}):
                key = f"L={levels} T={t}"
                if key not in analysis:
                    analysis[key] = rate_errors(tuned, x_rates, t, arguments.batch_size)
                    errors = ", ".join(f"{row['relative_error']:.3f}" for row in analysis[key])
                    log(f"[{name}] rate errors {key}: {errors}")
                    save()
    return entry


def causal_row(row: dict, cell: dict, steps: list[int]) -> str:
    """Fills ``row`` with the accuracy at every T of one run of max(T) steps (causal, no data); returns a log line."""
    for t in steps:
        row[str(t)] = {"accuracy": cell["accuracy_per_step"][t - 1]}
    row["simulation"] = {k: v for k, v in cell.items() if k != "accuracy"}
    return ", ".join(f"T={t} {100 * row[str(t)]['accuracy']:.2f}" for t in steps)


def signed_rows(name, entry, levels, tuned, value, calibration, x_test, y_test, steps, arguments, save) -> None:
    """Rows "QCFS L + signed f" (no data: causal, one run of max(T) gives every T) and "... + mode" per T."""
    row = entry["snn"].setdefault(f"QCFS L={levels} + signed f={value:g}", {})
    if not all(str(t) in row for t in steps):
        cell = snn_cell(tuned, None, x_test, y_test, max(steps), arguments.batch_size, negative_threshold=value)
        log(f"[{name}] QCFS L={levels} signed f={value:g}: {causal_row(row, cell, steps)}")
        save()
    for mode in arguments.signed_modes:
        row = entry["snn"].setdefault(f"QCFS L={levels} + signed f={value:g} + {mode}", {})
        data = (tuned, calibration, x_test, y_test)
        calibrated_row(row, data, mode, steps, arguments, save, negative_threshold=value)


def calibrated_row(row: dict, data: tuple, mode: str, steps: list[int], arguments, save, **options) -> None:
    """Fills ``row`` with one conversion calibrated with ``mode`` per T (up to ``--mode-max-t``)."""
    model, calibration, x_test, y_test = data
    for t in steps:
        if str(t) in row or (arguments.mode_max_t and t > arguments.mode_max_t):
            continue
        calibrate = tuple(mode.split("+")) if "+" in mode else mode
        row[str(t)] = snn_cell(
            model, calibration, x_test, y_test, t, arguments.batch_size, calibrate=calibrate, **options
        )
        log(f"  {mode} {options or ''} T={t}: {100 * row[str(t)]['accuracy']:.2f} %")
        save()


def presim_spec(spec: str) -> tuple[str, int]:
    """``"cos:2"`` → ``("cos", 2)``: a pre-simulating method (spkeras.methods.presimulation) and its ρ."""
    method, _, rho = spec.partition(":")
    if method not in ("cos", "srp") or not rho.isdigit() or int(rho) < 1:
        raise ValueError(f"--presim takes METHOD:RHO with METHOD cos or srp and RHO >= 1. Received: {spec!r}.")
    return method, int(rho)
