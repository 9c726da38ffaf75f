"""What post-conversion calibration costs, in simulations of the calibration set at the same T (issue 30).

Usage:
    nice python benchmarks/calibration_cost.py [--models mnist vgg resnet8 mobilenet_style mobilenetv2]
        [--images 100] [--timesteps 16] [--calibrate advanced] [--label after] [--output-dir benchmarks/results]

For each network: the number of spiking layers; a plain ``spkeras.convert`` (no calibration); one simulation of
the calibration images at T (``spkeras.evaluate``, first call = with tracing, then a second call = warm); a
conversion with ``calibrate=...``; and the ratio (calibrated conversion − plain conversion) / warm simulation, i.e.
how many simulations of the calibration set the calibration costs (also against the cold simulation, which
includes tracing the compiled time loop once, as calibration includes tracing its own functions). The four
timings of a network are measured back to back, so the ratio is meaningful under the noisy load of a shared
machine even when the seconds are not.

Networks (weights as noted; the cost does not depend on training, only the spike counts do):

- ``mnist``: the trained MNIST CNN of ``spkeras.demo`` (demo sample images);
- ``vgg``: the CIFAR-10 VGG-small of benchmarks/methods_comparison.py, untrained (seeded);
- ``resnet8``: the ResNet-8 of benchmarks/low_latency.py, untrained (seeded);
- ``mobilenet_style``: the MobileNet-style net of benchmarks/architectures.py, untrained (seeded);
- ``mobilenetv2``: ``keras.applications.MobileNetV2(alpha=0.35, input_shape=(32, 32, 3), weights=None)``.

CIFAR networks are calibrated on the first ``--images`` training images of ../shared/data/cifar10_subset.npz.
Results are merged into ``calibration_cost.json`` under ``--label`` (e.g. "before" / "after" a change).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import sys
import time

import keras
import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from common import RESULTS, load_cifar, machine, markdown_table, write_json  # noqa: E402

import spkeras  # noqa: E402
from spkeras.layers import IntegrateAndFire  # noqa: E402

MODELS = ("mnist", "vgg", "resnet8", "mobilenet_style", "mobilenetv2")
SEED = 0


def build(name: str) -> keras.Model:
    """The network ``name`` (see the module docstring)."""
    keras.utils.set_random_seed(SEED)
    if name == "mnist":
        return spkeras.load_model(spkeras.demo.DEMO_MODEL_PATH)
    if name == "vgg":
        from methods_comparison import cifar_vgg_small

        return cifar_vgg_small()
    if name == "resnet8":
        from low_latency import cifar_resnet8

        return cifar_resnet8()
    if name == "mobilenet_style":
        from architectures import mobilenet_style

        return mobilenet_style()  # with its augmentation (inactive at inference) and x/255 rescaling
    return keras.applications.MobileNetV2(alpha=0.35, input_shape=(32, 32, 3), weights=None, classes=10)


def images(name: str, count: int) -> np.ndarray:
    if name == "mnist":
        return spkeras.demo.load_sample()["x_calibration"][:count]
    return load_cifar()["x_train"][:count]


def measure(name: str, count: int, timesteps: int, calibrate: str) -> dict:
    model = build(name)
    x = images(name, count)
    if name == "mobilenet_style":
        x = x * 255.0  # the net rescales its input itself
    y = np.zeros(len(x), "int64")
    started = time.perf_counter()
    snn = spkeras.convert(model, x, timesteps=timesteps)
    plain = time.perf_counter() - started
    cold = spkeras.evaluate(snn, x, y, timesteps=timesteps).wall_time
    warm = spkeras.evaluate(snn, x, y, timesteps=timesteps).wall_time
    load = os.getloadavg()[0]
    started = time.perf_counter()
    spkeras.convert(model, x, timesteps=timesteps, calibrate=calibrate)
    calibrated = time.perf_counter() - started
    return {
        "spiking_layers": sum(isinstance(layer, IntegrateAndFire) for layer in snn.layers),
        "parameters": int(model.count_params()),
        "images": len(x),
        "timesteps": timesteps,
        "calibrate": calibrate,
        "plain_convert_s": plain,
        "simulation_cold_s": cold,
        "simulation_warm_s": warm,
        "calibrated_convert_s": calibrated,
        "ratio": (calibrated - plain) / warm,
        "load_average_1min": load,
    }


def table(results: dict) -> str:
    header = ["label", "network", "images", "spiking layers", "plain convert s", "one simulation s (cold / warm)"]
    header += ["calibrated convert s", "calibration / warm simulation", "calibration / cold simulation"]
    rows = []
    for label, entries in results.items():
        for name, value in entries.items():
            rows.append(
                [
                    label,
                    name.split("/")[0],
                    value["images"],
                    value["spiking_layers"],
                    f"{value['plain_convert_s']:.1f}",
                    f"{value['simulation_cold_s']:.1f} / {value['simulation_warm_s']:.1f}",
                    f"{value['calibrated_convert_s']:.1f}",
                    f"{value['ratio']:.1f}",
                    f"{(value['calibrated_convert_s'] - value['plain_convert_s']) / value['simulation_cold_s']:.1f}",
                ]
            )
    return markdown_table(header, rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--timesteps", type=int, default=16)
    parser.add_argument("--calibrate", default="advanced")
    parser.add_argument("--label", default="current")
    parser.add_argument("--output-dir", default=str(RESULTS))
    arguments = parser.parse_args(argv)
    path = pathlib.Path(arguments.output_dir) / "calibration_cost.json"
    report = json.loads(path.read_text()) if path.is_file() else {}
    report.update({"date": datetime.date.today().isoformat(), "machine": machine()})
    results = report.setdefault("results", {})
    for name in arguments.models:
        value = measure(name, arguments.images, arguments.timesteps, arguments.calibrate)
        key = f"{name}/{arguments.calibrate}/T={arguments.timesteps}/N={arguments.images}"
        results.setdefault(arguments.label, {})[key] = value
        print(
            f"[{arguments.label}] {name}: {value['spiking_layers']} spiking layers, ratio {value['ratio']:.1f}",
            file=sys.stderr,
            flush=True,
        )
        write_json(report, path)
    report["table"] = table(results)
    write_json(report, path)
    print(report["table"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
