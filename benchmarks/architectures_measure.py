"""What benchmarks/architectures.py measures: the layers that block a conversion, and how closely the SNN tracks
the ANN (logit fidelity, the T-level ANN as reference, accuracy of the trained net); not a script."""

from __future__ import annotations

import collections
import time
import warnings

import numpy as np
from architectures_networks import batchnorm_from_data, build, trained_mobilenet_style

REPORT_STEPS = (16, 32, 64, 128, 256)


def blockers(model) -> list[dict]:
    """The refused layers of ``model`` grouped by type and reason: ``{"type", "reason", "count"}``."""
    from spkeras.conversion import layer_report

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = layer_report(model)
    counts = collections.Counter((kind, reason) for _, kind, reason in report if reason is not None)
    return [{"type": kind, "reason": reason, "count": count} for (kind, reason), count in counts.most_common()]


def fidelity(snn_output: np.ndarray, logits: np.ndarray) -> dict:
    """Correlation, top-1 agreement and relative mean absolute error of SNN outputs against ANN logits."""
    return {
        "correlation": float(np.corrcoef(snn_output.ravel(), logits.ravel())[0, 1]),
        "top1_agreement": float(np.mean(snn_output.argmax(-1) == logits.argmax(-1))),
        "relative_error": float(np.abs(snn_output - logits).mean() / np.abs(logits).mean()),
    }


def quantised_logits(folded, x_calibration, x, timesteps: int) -> np.ndarray:
    """Logits of the folded ANN with every ReLU output rounded to T levels of its calibration maximum.

    This is what an ideal rate code with T steps can carry (each neuron's count rounded, as ECC's θ/2 start
    does); it shows how much of the SNN's deviation a random, untrained network amplifies by itself.
    """
    import keras

    from spkeras import graph

    nodes = graph.model_graph(folded)
    relus = [i for i, node in enumerate(nodes) if isinstance(node.layer, keras.layers.ReLU)]
    probe = keras.Model(folded.inputs, [nodes[i].layer.output for i in relus])
    maxima = [np.max(value) for value in probe.predict(x_calibration, verbose=0)]
    values = {0: x}
    for i, node in enumerate(nodes[1:], start=1):
        value = keras.ops.convert_to_numpy(graph.call_layer(node.layer, [values[j] for j in node.inputs]))
        if i in relus:
            top = max(float(maxima[relus.index(i)]), 1e-12)
            value = np.clip(np.floor(value / top * timesteps + 0.5), 0, timesteps) / timesteps * top
        values[i] = value
    return values[len(nodes) - 1]


def measure(name, x_calibration, x_test, timesteps, method, batchnorm) -> dict:
    import spkeras
    from spkeras.conversion import fold_model
    from spkeras.simulate import record

    model = build(name)
    if batchnorm == "data":
        batchnorm_from_data(model, x_calibration)
    layers = len(model.layers)
    blocked = blockers(model)
    if blocked:
        return {"architecture": name, "converts": False, "layers": layers, "blockers": blocked}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # conversion notices (e.g. untrained BN statistics); max pools counted below
        max_pools = sum(type(layer).__name__ == "MaxPooling2D" and max(layer.pool_size) > 1 for layer in model.layers)
        folded = fold_model(model)
        logits = folded.predict(x_test, verbose=0)
        quantised = quantised_logits(folded, x_calibration, x_test, timesteps)
        started = time.perf_counter()
        snn = spkeras.convert(model, x_calibration, method=method, timesteps=timesteps)
        converted = time.perf_counter() - started
    started = time.perf_counter()
    early = record(snn, x_test, timesteps=min(64, timesteps))["output"]
    late = record(snn, x_test, timesteps=timesteps)["output"]
    simulated = time.perf_counter() - started
    neurons = sum(getattr(layer, "spiking_neuron", False) for layer in snn.layers)
    return {
        "architecture": name,
        "converts": True,
        "layers": layers,
        "spiking_layers": int(neurons),
        "max_pools": int(max_pools),  # converted with the default policy, max_pooling="spiking"
        "at_64": fidelity(early, logits),
        f"at_{timesteps}": fidelity(late, logits),
        f"quantised_ann_at_{timesteps}": fidelity(quantised, logits),
        "ann_logit_std": float(logits.std()),
        "convert_s": converted,
        "simulate_s": simulated,
    }


def measure_trained(cifar, test_images: int, methods: list[str], calibrate: str | None = None) -> dict:
    import spkeras

    model, info = trained_mobilenet_style(cifar)
    x_test = cifar["x_test"][:test_images] * 255.0
    y_test = cifar["y_test"][:test_images]
    x_calibration = cifar["x_train"][:1000] * 255.0
    ann = float(np.mean(np.argmax(model.predict(x_test, verbose=0), -1) == y_test))
    result = {"model": "mobilenet_style", "training": info, "test_images": len(x_test), "ann_accuracy": ann}
    for method in methods:
        started = time.perf_counter()
        timesteps = 128 if calibrate else max(REPORT_STEPS)  # calibration tunes for the T of the target
        snn = spkeras.convert(model, x_calibration, method=method, timesteps=timesteps, calibrate=calibrate)
        converted = time.perf_counter() - started
        started = time.perf_counter()
        run = spkeras.evaluate(snn, x_test, y_test, timesteps=max(REPORT_STEPS))
        result[method] = {
            "accuracy": {str(t): run.accuracy_at(t) for t in REPORT_STEPS},
            "convert_s": converted,
            "evaluate_s": time.perf_counter() - started,
        }
    return result
