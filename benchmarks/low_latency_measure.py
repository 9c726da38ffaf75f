"""What benchmarks/low_latency.py measures: one conversion calibrated for T (accuracy, spikes, times) and the
per-layer rate error of a calibrated SNN against the BN-folded ANN; not a script."""

from __future__ import annotations

import logging
import os
import sys
import time

import keras
import numpy as np
from methods_comparison_report import spkeras_source

import spkeras
from spkeras.calibration import modes as calibration_modes
from spkeras.calibration.modes import rates
from spkeras.conversion.pipeline import fold_model
from spkeras.layers import IntegrateAndFire

BASE_MODES = ("none", "threshold", "bias", "potential", "light", "advanced")
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


class _Capture(logging.Handler):
    """Keeps the calibration's log lines (per-layer rate error before/after, λ ranges)."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def method_arguments(method: str) -> dict:
    """``spkeras.convert`` arguments of a ``--methods`` entry: a method name; ``cos:ρ`` / ``srp:ρ`` for the
    pre-simulating methods with ``presim_steps=ρ`` (the ρ steps count in T); or ``NAME:OPTION=VALUE,...`` for
    a method with options (numbers), e.g. ``augmapping:negative_threshold=0,v_init=0.5`` (the symmetric
    signed neurons of docs/calibration.md).

    Examples:
        >>> method_arguments("cos:2")
        {'method': 'cos', 'presim_steps': 2}
        >>> method_arguments("augmapping:negative_threshold=0,v_init=0.5")
        {'method': 'augmapping', 'negative_threshold': 0.0, 'v_init': 0.5}
    """
    name, _, rest = method.partition(":")
    if not rest:
        return {"method": name}
    if "=" in rest:
        arguments = {"method": name}
        for item in rest.split(","):
            key, _, value = item.partition("=")
            try:
                arguments[key] = float(value)
            except ValueError:
                raise ValueError(
                    f"--methods: NAME:OPTION=VALUE,... needs numeric values. Received: {method!r}."
                ) from None
        return arguments
    if name not in ("cos", "srp") or not rest.isdigit() or int(rest) < 1:
        raise ValueError(f"--methods: METHOD:RHO needs METHOD cos or srp and RHO >= 1. Received: {method!r}.")
    return {"method": name, "presim_steps": int(rest)}


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
