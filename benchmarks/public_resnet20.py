"""A well-trained public CIFAR-10 ResNet-20 (issue 30, "depth and training quality").

The model: the ResNet-20 of Yerlan Idelbayev's ``pytorch_resnet_cifar10`` (91.78 % on the full CIFAR-10 test
set as stored in the checkpoint, 0.27 M parameters, "option A" shortcuts), BSD-2-Clause licence (copyright
2018 Yerlan Idelbayev). The index holds no trained Keras ResNet-20 file (.h5/.keras; searched: find_files /
find_string for ``cifar10_ResNet20v1_model*.h5`` and 44 ``*resnet20*`` repositories); the checkpoint is stored in
a public GitHub repository that vendors it. Get it with:

    git clone https://github.com/aryafikriii/TMR-ResNet20          # commit 80e3dd722b6fe6e9dbb7c998d1fafd443ffe5b4d
    cp TMR-ResNet20/pretrained_models/resnet20-12fca82f.th benchmarks/cache/

(same file as ``resnet20-12fca82f.th`` of https://github.com/akamaster/pytorch_resnet_cifar10, 1,099,231 bytes).
The script rebuilds the network on live Keras objects (NHWC; PyTorch's symmetric padding of the stride-2 3×3
convolutions as ``ZeroPadding2D(1)`` + a ``valid`` convolution; the parameter-free option-A shortcut
``pad(x[:, ::2, ::2], channels)`` as a fixed 1×1 stride-2 convolution with a 0/1 kernel, no bias), copies the
weights (needs ``torch`` to read the checkpoint) and caches the Keras model as
``benchmarks/cache/public_resnet20.keras``. Preprocessing as in the repository's trainer: pixels / 255, then
per-channel standardisation with mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225) — so inputs are
negative.

Usage:
    python benchmarks/public_resnet20.py [--checkpoint benchmarks/cache/resnet20-12fca82f.th]
        [--test-images 1000] [--calibration-images 200] [--timesteps 8 16 32 64]
        [--calibrated-timesteps 16 8] [--modes advanced light] [--percentiles 100 99.9] [--analysis-images 200]
        [--markdown-only]

Writes benchmarks/results/public_resnet20.json and .md (the .md keeps its hand-written analysis
below a marker when the script rewrites the tables).
"""

from __future__ import annotations

import argparse
import functools
import json
import pathlib
import sys
import time
from unittest import mock

import keras
import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from common import RESULTS, load_cifar, machine, write_json  # noqa: E402
from low_latency import layer_errors  # noqa: E402
from low_latency_measure import method_arguments  # noqa: E402
from public_resnet20_report import write_markdown  # noqa: E402

import spkeras  # noqa: E402
from spkeras.conversion.pipeline import fold_model  # noqa: E402

CACHE = pathlib.Path(__file__).resolve().parent / "cache"
CHECKPOINT = CACHE / "resnet20-12fca82f.th"
KERAS_FILE = CACHE / "public_resnet20.keras"
MEAN = np.array([0.485, 0.456, 0.406], "float32")
STD = np.array([0.229, 0.224, 0.225], "float32")
SEED = 0
HOW_TO_GET = (
    "git clone https://github.com/aryafikriii/TMR-ResNet20 && "
    "cp TMR-ResNet20/pretrained_models/resnet20-12fca82f.th benchmarks/cache/"
)


def preprocess(images: np.ndarray) -> np.ndarray:
    """Images in [0, 1] (NHWC) standardised per channel as in the repository's trainer."""
    return ((images - MEAN) / STD).astype("float32")


def _conv(x, weight, strides, name):
    kernel = np.transpose(weight, (2, 3, 1, 0))
    if strides == 2:
        x = keras.layers.ZeroPadding2D(1, name=f"{name}_pad")(x)
    layer = keras.layers.Conv2D(
        kernel.shape[-1],
        kernel.shape[:2],
        strides=strides,
        padding="valid" if strides == 2 else "same",
        use_bias=False,
        name=name,
    )
    y = layer(x)
    layer.set_weights([kernel])
    return y


def _bn(x, state, prefix, name):
    layer = keras.layers.BatchNormalization(epsilon=1e-5, name=name)
    y = layer(x)
    layer.set_weights([state[f"{prefix}.{key}"] for key in ("weight", "bias", "running_mean", "running_var")])
    return y


def _shortcut(x, in_channels, out_channels, name):
    """Option A: ``pad(x[:, ::2, ::2], out/4 zero channels on each side)`` as a fixed 1×1 stride-2 convolution."""
    kernel = np.zeros((1, 1, in_channels, out_channels), "float32")
    offset = out_channels // 4
    kernel[0, 0, np.arange(in_channels), offset + np.arange(in_channels)] = 1.0
    layer = keras.layers.Conv2D(out_channels, 1, strides=2, use_bias=False, trainable=False, name=name)
    y = layer(x)
    layer.set_weights([kernel])
    return y


def build_resnet20(state: dict[str, np.ndarray]) -> keras.Model:
    """The Keras ResNet-20 with the checkpoint's weights (``state``: PyTorch names without ``module.``)."""
    inputs = keras.Input((32, 32, 3), name="image")
    x = _conv(inputs, state["conv1.weight"], 1, "conv1")
    x = keras.layers.ReLU(name="relu1")(_bn(x, state, "bn1", "bn1"))
    channels = 16
    for stage, planes in enumerate((16, 32, 64), start=1):
        for block in range(3):
            prefix, name = f"layer{stage}.{block}", f"s{stage}b{block}"
            strides = 2 if stage > 1 and block == 0 else 1
            y = _conv(x, state[f"{prefix}.conv1.weight"], strides, f"{name}_conv1")
            y = keras.layers.ReLU(name=f"{name}_relu1")(_bn(y, state, f"{prefix}.bn1", f"{name}_bn1"))
            y = _bn(
                _conv(y, state[f"{prefix}.conv2.weight"], 1, f"{name}_conv2"), state, f"{prefix}.bn2", f"{name}_bn2"
            )
            shortcut = _shortcut(x, channels, planes, f"{name}_shortcut") if strides == 2 else x
            x = keras.layers.ReLU(name=f"{name}_relu2")(keras.layers.Add(name=f"{name}_add")([y, shortcut]))
            channels = planes
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    dense = keras.layers.Dense(10, name="linear")
    outputs = dense(x)
    dense.set_weights([state["linear.weight"].T, state["linear.bias"]])
    return keras.Model(inputs, outputs, name="public_resnet20")


def load_public_resnet20(checkpoint: pathlib.Path) -> keras.Model | None:
    """The cached Keras model, or None (with instructions) when neither it nor the checkpoint is here."""
    if KERAS_FILE.is_file():
        return keras.models.load_model(KERAS_FILE)
    if not checkpoint.is_file():
        print(f"{checkpoint} not found. Get it with:\n    {HOW_TO_GET}\nthen run this script again.")
        return None
    import torch  # only here: reads the PyTorch checkpoint once

    stored = torch.load(checkpoint, map_location="cpu")
    state = {key.removeprefix("module."): value.numpy() for key, value in stored["state_dict"].items()}
    model = build_resnet20(state)
    model.save(KERAS_FILE)
    return model


def accuracy(snn_or_ann, x, y, timesteps=None) -> float:
    if timesteps is None:
        return float(np.mean(np.argmax(snn_or_ann.predict(x, batch_size=200, verbose=0), -1) == y))
    return float(spkeras.evaluate(snn_or_ann, x, y, timesteps=timesteps, batch_size=200).accuracy_at(timesteps))


def run_conversion(model, calibration, x, y, timesteps, mode=None, percentile=100.0, method="ecc") -> dict:
    options = method_arguments(method) | ({"percentile": percentile} if method == "ecc" else {})
    started = time.perf_counter()
    snn = spkeras.convert(model, calibration, timesteps=timesteps, calibrate=mode, **options)
    convert_s = time.perf_counter() - started
    started = time.perf_counter()
    result = spkeras.evaluate(snn, x, y, timesteps=timesteps, batch_size=200)
    return {
        "timesteps": timesteps,
        "calibrate": mode,
        "percentile": percentile if method == "ecc" else None,
        "method": method,
        "accuracy": float(result.accuracy_at(timesteps)),
        "curve": {t: float(result.accuracy_at(t)) for t in (8, 16, 32, 64) if t <= timesteps},
        "spikes_per_image": float(result.spikes_per_image()),
        "conversion_s": convert_s,
        "simulation_s": time.perf_counter() - started,
    }


def analyse(model, folded, relus, x, calibration, timesteps, percentile) -> dict:
    """low_latency.layer_errors (default conversion, no calibration) with ecc's λ at ``percentile``."""
    with mock.patch.object(spkeras, "convert", functools.partial(spkeras.convert, percentile=percentile)):
        return layer_errors(model, folded, relus, calibration, x, "ecc", "none", timesteps, 100)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=pathlib.Path, default=CHECKPOINT)
    parser.add_argument("--test-images", type=int, default=1000)
    parser.add_argument("--calibration-images", type=int, default=200)
    parser.add_argument("--timesteps", type=int, nargs="+", default=[8, 16, 32, 64])
    parser.add_argument("--calibrated-timesteps", type=int, nargs="+", default=[16, 8])
    parser.add_argument("--modes", nargs="+", default=["advanced", "light"])
    parser.add_argument("--analysis-images", type=int, default=200)
    parser.add_argument("--analysis-timesteps", type=int, nargs="*", default=[16, 64])
    parser.add_argument(
        "--percentiles", type=float, nargs="+", default=[100.0, 99.9], help="ecc's λ percentile (100 = max)"
    )
    parser.add_argument(
        "--other-methods",
        nargs="*",
        default=[],
        help="method specs as in low_latency.py --methods (e.g. termapping:negative_threshold=0,v_init=0.5), run "
        "uncalibrated at T = 64 and with each --modes at each --calibrated-timesteps",
    )
    parser.add_argument("--output", type=pathlib.Path, default=RESULTS / "public_resnet20.json")
    parser.add_argument("--markdown-only", action="store_true", help="rewrite the .md from the existing .json")
    arguments = parser.parse_args(argv)
    if arguments.markdown_only:
        write_markdown(json.loads(arguments.output.read_text()), arguments.output.with_suffix(".md"))
        return 0
    keras.utils.set_random_seed(SEED)
    model = load_public_resnet20(arguments.checkpoint)
    if model is None:
        return 0
    data = load_cifar()
    x_test, y_test = preprocess(data["x_test"][: arguments.test_images]), data["y_test"][: arguments.test_images]
    chosen = np.random.default_rng(SEED).choice(len(data["x_train"]), arguments.calibration_images, replace=False)
    calibration = preprocess(data["x_train"][np.sort(chosen)])
    report = {"machine": machine(), "arguments": {k: str(v) for k, v in vars(arguments).items()}, "runs": []}
    report["ann_accuracy"] = accuracy(model, x_test, y_test)
    report["input_range"] = [float(x_test.min()), float(x_test.max())]
    print(f"ANN {report['ann_accuracy']:.4f}", file=sys.stderr)
    folded = fold_model(model)
    relus = [layer for layer in folded.layers if isinstance(layer, keras.layers.ReLU)]
    x_analysis = calibration[: arguments.analysis_images]
    report["analysis"] = {}
    for percentile in arguments.percentiles:
        for timesteps in arguments.timesteps:
            report["runs"].append(run_conversion(model, calibration, x_test, y_test, timesteps, None, percentile))
            print(report["runs"][-1], file=sys.stderr)
            write_json(report, arguments.output)
        for timesteps in arguments.analysis_timesteps:
            report["analysis"][f"p{percentile:g} T={timesteps}"] = analyse(
                model, folded, relus, x_analysis, calibration, timesteps, percentile
            )
            write_json(report, arguments.output)
        for timesteps in arguments.calibrated_timesteps:
            for mode in arguments.modes:
                run = run_conversion(model, calibration, x_test, y_test, timesteps, mode, percentile)
                report["runs"].append(run)
                print(run, file=sys.stderr)
                write_json(report, arguments.output)
    for method in arguments.other_methods:
        for timesteps, mode in [(64, None)] + [(t, m) for t in arguments.calibrated_timesteps for m in arguments.modes]:
            report["runs"].append(run_conversion(model, calibration, x_test, y_test, timesteps, mode, method=method))
            print(report["runs"][-1], file=sys.stderr)
            write_json(report, arguments.output)
    write_json(report, arguments.output)
    write_markdown(report, arguments.output.with_suffix(".md"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
