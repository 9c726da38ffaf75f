"""Simulation speed against the T × ANN bar, closed-form cost, and peak memory.

For each model (the MNIST reference CNN and a CIFAR-10 VGG-small of the methods benchmark; trained weights are
not needed for timing, so untrained models of the same shape are used), batch size and T, one subprocess
measures:

- ANN time: one compiled forward pass of the BN-folded ANN on the batch (median of repeats);
- SNN time: one compiled simulation of the batch for T steps (median of repeats, after a warm-up);
- ratio = SNN / (T × ANN) (the target is ≤ 1.3 at T = 32), and image·steps per second;
- closed form: the analytic estimate's time relative to one ANN pass (target ≤ 1.5);
- peak resident memory of the process (ru_maxrss).

A last row evaluates all 10,000 MNIST test images at T = 256 through ``spkeras.evaluate`` (streamed batches
and time chunks) and reports its peak RSS (target < 2 GB).

``--profile`` instead profiles the simulation at the dense limit (issue 29 part 2): for each of
``--profile-configs`` (default: the CIFAR VGG-small and the CIFAR ResNet-8 of benchmarks/low_latency.py at
T = 32, batch 100 and 1,000) one subprocess with default threading measures the strict ratio interleaved with
two lower bounds (simulation_speed_bounds.py: a one-pass neuron update, and the synaptic layers alone), and
another, with one inter-op thread, measures it again, then records one simulation and
T compiled ANN passes with the TensorFlow profiler (``tf.profiler.experimental``, host tracer) and sums the
executed kernels' time per op type (from the trace's ``name:OpType`` events, control-flow ops excluded as they
contain the others) and per category (synaptic, neuron, counting/readout, layout, other). Writes
simulation_profile.json.

Usage:
    python benchmarks/simulation_speed.py [--quick] [--chunk-sizes 1 4 16] [--output FILE.json]
    python benchmarks/simulation_speed.py --profile [--profile-configs cifar:100:32 resnet:1000:32 ...]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import pathlib
import subprocess
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from common import RESULTS, machine, markdown_table, write_json  # noqa: E402
from simulation_speed_bounds import measure_bounds  # noqa: E402
from simulation_speed_measure import measure_full_mnist, measure_one  # noqa: E402
from simulation_speed_profile import profile_one, profile_tables  # noqa: E402


def run_profile(arguments) -> int:
    records = []
    for config in arguments.profile_configs:
        model, batch, steps = config.split(":")
        record = _subprocess(["--profile-single", model, batch, steps, "--repeats", str(arguments.repeats)])
        record["default_threading"] = _subprocess(
            ["--bounds-single", model, batch, steps, "--repeats", str(arguments.repeats)]
        )
        records.append(record)
        print(
            f"{model} batch {batch} T {steps}: ratio {record['ratio_snn_over_T_ann']:.2f}", file=sys.stderr, flush=True
        )
    tables = profile_tables(records)
    print(tables)
    output = pathlib.Path(arguments.output).with_name("simulation_profile.json")
    path = write_json(
        {
            "machine": machine(),
            "method": "tf.profiler.experimental host trace",
            "configurations": records,
            "tables": tables,
        },
        output,
    )
    print(f"wrote {path}")
    return 0


def _subprocess(arguments: list[str]) -> dict:
    completed = subprocess.run(
        [sys.executable, __file__, *arguments],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    if completed.returncode != 0:
        raise SystemExit(f"measurement {arguments} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer configurations and repeats")
    parser.add_argument("--chunk-sizes", type=int, nargs="+", default=[None], help="time steps per layer sweep")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-full", action="store_true", help="skip the 10,000-image memory run")
    parser.add_argument("--all", action="store_true", help="also CIFAR at batch 1000 and T=256 (slow on CPU)")
    parser.add_argument("--output", default=str(RESULTS / "simulation_speed.json"))
    parser.add_argument("--single", nargs=4, metavar=("MODEL", "BATCH", "T", "CHUNK"), help=argparse.SUPPRESS)
    parser.add_argument("--full", nargs=2, metavar=("T", "BATCH"), help=argparse.SUPPRESS)
    parser.add_argument("--profile", action="store_true", help="op-level profile at the dense limit (issue 29)")
    parser.add_argument(
        "--profile-configs",
        nargs="+",
        default=["cifar:100:32", "cifar:1000:32", "resnet:100:32", "resnet:1000:32"],
        help="MODEL:BATCH:T (models: mnist, cifar, resnet)",
    )
    parser.add_argument("--profile-single", nargs=3, metavar=("MODEL", "BATCH", "T"), help=argparse.SUPPRESS)
    parser.add_argument("--bounds-single", nargs=3, metavar=("MODEL", "BATCH", "T"), help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if arguments.profile_single:
        model, batch, steps = arguments.profile_single
        print(json.dumps(profile_one(model, int(batch), int(steps), arguments.repeats)))
        return 0
    if arguments.bounds_single:
        model, batch, steps = arguments.bounds_single
        print(json.dumps(measure_bounds(model, int(batch), int(steps), arguments.repeats)))
        return 0
    if arguments.profile:
        return run_profile(arguments)
    if arguments.single:
        model, batch, steps, chunk = arguments.single
        chunk = None if chunk == "None" else int(chunk)
        print(json.dumps(measure_one(model, int(batch), int(steps), chunk, arguments.repeats)))
        return 0
    if arguments.full:
        print(json.dumps(measure_full_mnist(int(arguments.full[0]), int(arguments.full[1]))))
        return 0

    if arguments.quick:
        configurations = [("mnist", 100, 32)]
    else:
        configurations = [
            (model, batch, steps) for model in ("mnist", "cifar") for batch in (100, 1000) for steps in (32, 256)
        ]
        # CIFAR at batch 1000 and T = 256 is 12.8 TFLOP per repeat (minutes on 2 cores): skipped unless asked.
        if not arguments.all:
            configurations.remove(("cifar", 1000, 256))
    rows, records = [], []
    for (model, batch, timesteps), chunk in itertools.product(configurations, arguments.chunk_sizes):
        record = _subprocess(["--single", model, str(batch), str(timesteps), str(chunk)])
        records.append(record)
        rows.append(
            [
                model,
                batch,
                timesteps,
                record["chunk_size"],
                f"{record['ann_time_s'] * 1000:.1f}",
                f"{record['snn_time_s'] * 1000:.0f}",
                f"{record['ratio_snn_over_T_ann']:.2f}",
                f"{record['image_steps_per_s']:.0f}",
                f"{record['closed_form_over_ann']:.2f}",
                f"{record['peak_rss_mb']:.0f}",
            ]
        )
        print(" | ".join(str(cell) for cell in rows[-1]), file=sys.stderr)
    header = ["model", "batch", "T", "chunk", "ANN ms", "SNN ms", "SNN/(T×ANN)", "img·steps/s", "closed/ANN", "RSS MB"]
    print(markdown_table(header, rows))
    report = {"machine": machine(), "configurations": records}
    if not arguments.skip_full:
        full = _subprocess(["--full", "256", "100"])
        report["full_mnist"] = full
        print(
            f"\nAll 10,000 MNIST test images at T=256: {full['wall_time_s']:.1f} s, "
            f"{full['image_steps_per_s']:.0f} image·steps/s, peak RSS {full['peak_rss_mb']:.0f} MB, "
            f"accuracy {full['accuracy_at_T']:.4f}"
        )
    path = write_json(report, pathlib.Path(arguments.output))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
