"""Accuracy of the bundled demo CNN's SNN against time steps, for each method, on all 10,000 MNIST test images.

Usage:
    python benchmarks/accuracy_vs_timesteps.py [--timesteps 256] [--methods ecc robust max] [--limit N]

Prints a markdown table (ANN accuracy; SNN accuracy at t = 1, 2, 4, ..., T; spikes per image; conversion and
evaluation wall time) and writes benchmarks/results/accuracy_vs_timesteps.json. One simulation run per method
gives the accuracy at every t ≤ T. Calibration uses the 1,000 bundled calibration images.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from common import RESULTS, load_mnist, machine, markdown_table, write_json  # noqa: E402

import spkeras  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timesteps", type=int, default=256)
    parser.add_argument("--methods", nargs="+", default=["ecc", "robust", "max"])
    parser.add_argument("--limit", type=int, default=None, help="use only the first N test images")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--output", default=str(RESULTS / "accuracy_vs_timesteps.json"))
    arguments = parser.parse_args(argv)

    mnist = load_mnist()
    x_test, y_test = mnist["x_test"][: arguments.limit], mnist["y_test"][: arguments.limit]
    calibration = spkeras.demo.load_sample()["x_calibration"]
    cnn = spkeras.load_model(spkeras.demo.DEMO_MODEL_PATH)
    started = time.perf_counter()
    ann_accuracy = float(np.mean(np.argmax(cnn.predict(x_test, batch_size=1000, verbose=0), -1) == y_test))
    ann_time = time.perf_counter() - started

    steps = [2**k for k in range(int(np.log2(arguments.timesteps)) + 1)]
    report = {
        "model": "bundled demo_mnist_cnn.h5",
        "test_images": len(x_test),
        "calibration_images": len(calibration),
        "timesteps": arguments.timesteps,
        "ann_accuracy": ann_accuracy,
        "ann_predict_time_s": ann_time,
        "machine": machine(),
        "methods": {},
    }
    rows = []
    for method in arguments.methods:
        started = time.perf_counter()
        snn = spkeras.convert(cnn, calibration, method=method, timesteps=arguments.timesteps)
        conversion_time = time.perf_counter() - started
        result = spkeras.evaluate(snn, x_test, y_test, timesteps=arguments.timesteps, batch_size=arguments.batch_size)
        report["methods"][method] = {
            "conversion_time_s": conversion_time,
            "evaluation_time_s": result.wall_time,
            "accuracy_per_step": [float(a) for a in result.accuracy],
            "spikes_per_image": result.spikes_per_image(),
            "spikes_per_image_per_layer": result.spikes_per_layer(),
        }
        rows.append(
            [method]
            + [f"{result.accuracy_at(t):.4f}" for t in steps]
            + [f"{result.spikes_per_image():.0f}", f"{conversion_time:.1f}", f"{result.wall_time:.1f}"]
        )
        print(f"{method}: done in {conversion_time + result.wall_time:.1f} s", file=sys.stderr)
    header = ["method"] + [f"t={t}" for t in steps] + ["spikes/img", "convert s", "evaluate s"]
    print(f"ANN accuracy: {ann_accuracy:.4f} on {len(x_test)} MNIST test images\n")
    print(markdown_table(header, rows))
    path = write_json(report, __import__("pathlib").Path(arguments.output))
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
