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
T = 32, batch 100 and 1,000) one subprocess measures the strict ratio as above, then records one simulation and
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
import collections
import itertools
import json
import os
import pathlib
import re
import resource
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from common import RESULTS, machine, markdown_table, write_json  # noqa: E402


def _mnist_model():
    import keras

    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(16, 3),
            layers.BatchNormalization(),
            layers.ReLU(),
            layers.AveragePooling2D(2),
            layers.Conv2D(32, 3),
            layers.BatchNormalization(),
            layers.ReLU(),
            layers.AveragePooling2D(2),
            layers.Flatten(),
            layers.Dense(10),
        ],
        name="mnist_cnn",
    )


def _cifar_model():
    import keras

    layers = keras.layers
    blocks = [keras.Input((32, 32, 3))]
    for filters in (32, 32, None, 64, 64, None):
        if filters is None:
            blocks.append(layers.AveragePooling2D(2))
        else:
            blocks += [layers.Conv2D(filters, 3, padding="same"), layers.BatchNormalization(), layers.ReLU()]
    blocks += [layers.Flatten(), layers.Dense(128), layers.ReLU(), layers.Dense(10)]
    return keras.Sequential(blocks, name="cifar_vgg_small")


def _resnet_model():
    from low_latency_networks import cifar_resnet8

    return cifar_resnet8()


def _model(name):
    return {"mnist": _mnist_model, "cifar": _cifar_model, "resnet": _resnet_model}[name]()


def _median_time(function, repeats):
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return sorted(times)[len(times) // 2]


def measure_one(model_name, batch_size, timesteps, chunk_size, repeats):
    """Runs in a subprocess: times ANN, SNN and the closed form for one configuration."""
    import keras
    import numpy as np
    import tensorflow as tf

    import spkeras
    from spkeras.analytic import closed_form_model
    from spkeras.conversion import fold_model
    from spkeras.simulate import Simulator

    keras.utils.set_random_seed(0)
    model = _model(model_name)
    shape = tuple(model.inputs[0].shape[1:])
    x = np.random.default_rng(0).uniform(0, 1, (batch_size,) + shape).astype("float32")
    y = np.zeros(batch_size, "int64")
    snn = spkeras.convert(model, x[:200], method="ecc", timesteps=timesteps)
    folded = fold_model(model)
    ann = tf.function(lambda batch: folded(batch, training=False))
    x_tensor, y_tensor, seed = tf.constant(x), tf.constant(y), tf.constant([0, 0], tf.int64)
    ann(x_tensor).numpy()
    ann_time = _median_time(lambda: ann(x_tensor).numpy(), max(repeats * 3, 5))
    simulator = Simulator(snn, timesteps, chunk_size=chunk_size)
    run = lambda: [value.numpy() for value in simulator.run_batch(x_tensor, y_tensor, seed)]  # noqa: E731
    simulator.run_batch(x_tensor[:2], y_tensor[:2], seed)  # traces the loop (the batch axis is dynamic)
    snn_time = _median_time(run, repeats)
    closed = closed_form_model(snn)
    steps = tf.constant(float(timesteps))
    closed(x_tensor, steps)[0].numpy()
    closed_time = _median_time(lambda: closed(x_tensor, steps)[0].numpy(), max(repeats * 3, 5))
    return {
        "model": model_name,
        "batch_size": batch_size,
        "timesteps": timesteps,
        "chunk_size": simulator.chunk_size,
        "ann_time_s": ann_time,
        "snn_time_s": snn_time,
        "ratio_snn_over_T_ann": snn_time / (timesteps * ann_time),
        "image_steps_per_s": batch_size * timesteps / snn_time,
        "closed_form_over_ann": closed_time / ann_time,
        "traces": simulator.traces,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def measure_full_mnist(timesteps, batch_size):
    """Runs in a subprocess: evaluates all MNIST test images and reports time and peak memory."""
    import numpy as np
    from common import load_mnist

    import spkeras

    data = load_mnist()
    cnn = spkeras.load_model(spkeras.demo.DEMO_MODEL_PATH)
    snn = spkeras.convert(cnn, spkeras.demo.load_sample()["x_calibration"], method="ecc", timesteps=timesteps)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = spkeras.evaluate(snn, data["x_test"], data["y_test"], timesteps=timesteps, batch_size=batch_size)
    return {
        "model": "demo MNIST CNN, 10,000 test images",
        "batch_size": batch_size,
        "timesteps": timesteps,
        "accuracy_at_T": float(result.accuracy[-1]),
        "wall_time_s": result.wall_time,
        "image_steps_per_s": len(data["x_test"]) * timesteps / result.wall_time,
        "peak_rss_mb_before_evaluate": before,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "mean_accuracy_check": float(np.mean(result.accuracy[-8:])),
    }


# --- profile at the dense limit ------------------------------------------------------------------------------

#: Op types by role. Synaptic: the layers' own work; neuron: charge / fire / reset / emit; counting: spike counts
#: and the readout; layout: copies and layout changes that compute nothing.
CATEGORIES = {
    "synaptic": {
        "Conv2D",
        "_MklConv2D",
        "_MklNativeConv2D",
        "_FusedConv2D",
        "_MklFusedConv2D",
        "_MklNativeFusedConv2D",
        "MatMul",
        "_MklMatMul",
        "_FusedMatMul",
        "_MklFusedMatMul",
        "_MklNativeFusedMatMul",
        "BiasAdd",
        "AvgPool",
        "_MklAvgPool",
        "_MklNativeAvgPool",
        "MaxPool",
        "_MklMaxPool",
        "_MklNativeMaxPool",
        "Mean",
        "Relu",
        "_MklRelu",
    },
    "neuron": {
        "AddV2",
        "Add",
        "_MklAdd",
        "_MklAddV2",
        "Sub",
        "Mul",
        "_MklMul",
        "GreaterEqual",
        "Greater",
        "Cast",
        "Select",
        "SelectV2",
        "RealDiv",
        "Maximum",
        "Minimum",
        "ZerosLike",
        "Fill",
    },
    "counting/readout": {"Sum", "Abs", "Cumsum", "ArgMax", "Equal", "NotEqual", "Count", "AddN", "Prod"},
    "layout": {
        "Reshape",
        "_MklReshape",
        "Transpose",
        "_MklTranspose",
        "_MklToTf",
        "Identity",
        "Pack",
        "ConcatV2",
        "BroadcastTo",
        "StridedSlice",
        "Squeeze",
        "ExpandDims",
        "Shape",
        "TensorListStack",
        "TensorListSetItem",
        "TensorListFromTensor",
        "TensorListReserve",
        "Slice",
        "Tile",
    },
}
_CONTROL = {
    "While",
    "StatelessWhile",
    "StatefulPartitionedCall",
    "PartitionedCall",
    "If",
    "StatelessIf",
    "Enter",
    "Exit",
    "NextIteration",
    "Merge",
    "Switch",
    "LoopCond",
    "_Recv",
    "_Send",
    "_Arg",
    "_Retval",
    "NoOp",
    "Less",
    "Const",
}
#: The lever measured in the profile (Grappler's arithmetic optimiser off) is timed up to this batch size only.
VARIANT_MAX_BATCH = 100
_OP_EVENT = re.compile(r"^([^:]+):([A-Za-z_][A-Za-z0-9_]*)$")


def _category(op_type):
    for category, types in CATEGORIES.items():
        if op_type in types:
            return category
    return "other"


def _op_times(function):
    """Runs ``function`` once under the TensorFlow profiler; returns {op type: [seconds, kernels]} summed over the
    executed kernels (host CPU plane, all threads) and a few op names per type (numbered suffixes dropped)."""
    import tensorflow as tf
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    logdir = tempfile.mkdtemp(prefix="spkeras_profile_")
    tf.profiler.experimental.start(logdir, options=tf.profiler.experimental.ProfilerOptions(host_tracer_level=2))
    try:
        function()
    finally:
        tf.profiler.experimental.stop()
    by_type, examples = collections.defaultdict(lambda: [0.0, 0]), collections.defaultdict(set)
    for path in pathlib.Path(logdir).rglob("*.xplane.pb"):
        space = xplane_pb2.XSpace()
        space.ParseFromString(path.read_bytes())
        for plane in space.planes:
            if not plane.name.startswith("/host:CPU"):
                continue
            for line in plane.lines:
                for event in line.events:
                    match = _OP_EVENT.match(plane.event_metadata[event.metadata_id].name)
                    if not match or match.group(2) in _CONTROL:
                        continue
                    name, op_type = match.groups()
                    by_type[op_type][0] += event.duration_ps * 1e-12
                    by_type[op_type][1] += 1
                    examples[op_type].add(re.sub(r"_\d+$", "", name.split("/")[-1]))
    return dict(by_type), {key: sorted(value)[:6] for key, value in examples.items()}


def profile_one(model_name, batch_size, timesteps, repeats):
    """Runs in a subprocess: the strict ratio and the op-level profile of one simulation and T ANN passes.

    TensorFlow runs with one inter-op thread here, so that ops do not overlap and each kernel's time is its own
    (intra-op parallelism is kept); the headline ratio comes from :func:`measure_one` with default threading.
    Also measures one lever without changing spkeras (batches up to ``VARIANT_MAX_BATCH``): Grappler's
    arithmetic optimiser off (it duplicates the spike casts, see the profile)."""
    import keras
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_inter_op_parallelism_threads(1)

    import spkeras
    from spkeras.conversion import fold_model
    from spkeras.simulate import Simulator

    keras.utils.set_random_seed(0)
    model = _model(model_name)
    shape = tuple(model.inputs[0].shape[1:])
    x = np.random.default_rng(0).uniform(0, 1, (batch_size,) + shape).astype("float32")
    snn = spkeras.convert(model, x[:200], method="ecc", timesteps=timesteps)
    folded = fold_model(model)
    ann = tf.function(lambda batch: folded(batch, training=False))
    x_tensor, y_tensor, seed = tf.constant(x), tf.constant(np.zeros(batch_size, "int64")), tf.constant([0, 0], tf.int64)
    ann(x_tensor).numpy()
    simulator = Simulator(snn, timesteps)
    run = lambda: [value.numpy() for value in simulator.run_batch(x_tensor, y_tensor, seed)]  # noqa: E731
    reference = run()
    ann_times, snn_times = [], []
    for _ in range(repeats):  # interleaved, so that load changes on the machine hit both alike
        ann_times.append(_median_time(lambda: ann(x_tensor).numpy(), 3))
        snn_times.append(_median_time(run, 1))
    ann_time, snn_time = float(np.median(ann_times)), float(np.median(snn_times))
    variants = {}
    if batch_size <= VARIANT_MAX_BATCH:
        tf.config.optimizer.set_experimental_options({"arithmetic_optimization": False})
        variant = Simulator(snn, timesteps)
        run_variant = lambda: [value.numpy() for value in variant.run_batch(x_tensor, y_tensor, seed)]  # noqa: E731
        same = all(np.array_equal(a, b) for a, b in zip(reference, run_variant()))
        variant_times, baseline_times = [], []
        for _ in range(repeats):
            baseline_times.append(_median_time(run, 1))
            variant_times.append(_median_time(run_variant, 1))
        variant_ops, _ = _op_times(run_variant)
        tf.config.optimizer.set_experimental_options({"arithmetic_optimization": True})
        variants["arithmetic_optimization_off"] = {
            "snn_time_s": float(np.median(variant_times)),
            "baseline_snn_time_s": float(np.median(baseline_times)),
            "identical_results": bool(same),
            "casts_per_step": variant_ops.get("Cast", [0, 0])[1] / timesteps,
        }

    def ann_passes():
        for _ in range(timesteps):
            ann(x_tensor).numpy()

    started = time.perf_counter()
    snn_ops, snn_examples = _op_times(run)
    snn_profiled = time.perf_counter() - started
    started = time.perf_counter()
    ann_ops, _ = _op_times(ann_passes)
    ann_profiled = time.perf_counter() - started

    def summary(ops, wall):
        total = sum(seconds for seconds, _ in ops.values())
        categories = collections.Counter()
        for op_type, (seconds, _) in ops.items():
            categories[_category(op_type)] += seconds
        top = sorted(ops.items(), key=lambda item: -item[1][0])
        return {
            "profiled_wall_s": wall,
            "op_time_s": total,
            "categories_s": dict(categories),
            "ops": [
                {"op": op, "category": _category(op), "time_s": seconds, "share": seconds / total, "count": count}
                for op, (seconds, count) in top
            ],
        }

    return {
        "model": model_name,
        "batch_size": batch_size,
        "timesteps": timesteps,
        "ann_time_s": ann_time,
        "snn_time_s": snn_time,
        "ratio_snn_over_T_ann": snn_time / (timesteps * ann_time),
        "image_steps_per_s": batch_size * timesteps / snn_time,
        "snn_profile": summary(snn_ops, snn_profiled),
        "ann_profile": summary(ann_ops, ann_profiled),
        "snn_op_names": snn_examples,
        "variants": variants,
        "inter_op_threads": 1,
    }


def profile_tables(records) -> str:
    """Markdown: the ratios and category shares per configuration, then per configuration the top ops."""
    categories = ["synaptic", "neuron", "counting/readout", "layout", "other"]
    header = ["model", "batch", "T", "SNN/(T×ANN)", "same, 1 inter-op thread", "arith. opt. off"] + categories
    rows = []
    for record in records:
        profile, variant = record["snn_profile"], record["variants"].get("arithmetic_optimization_off")
        shares = {key: value / profile["op_time_s"] for key, value in profile["categories_s"].items()}
        default = record.get("default_threading", {}).get("ratio_snn_over_T_ann", float("nan"))
        if variant:
            change = variant["snn_time_s"] / variant["baseline_snn_time_s"] - 1
            change = f"{100 * change:+.0f} % time{'' if variant['identical_results'] else ' (results differ)'}"
        rows.append(
            [
                record["model"],
                record["batch_size"],
                record["timesteps"],
                f"**{default:.2f}**",
                f"{record['ratio_snn_over_T_ann']:.2f}",
                change if variant else "-",
            ]
            + [f"{100 * shares.get(key, 0):.0f} %" for key in categories]
        )
    lines = [markdown_table(header, rows)]
    for record in records:
        snn, ann = record["snn_profile"], record["ann_profile"]
        ann_ops = {entry["op"]: entry["time_s"] for entry in ann["ops"]}
        lines.append(
            f"\n{record['model']}, batch {record['batch_size']}, T = {record['timesteps']}: kernel time "
            f"{snn['op_time_s']:.2f} s in the simulation, {ann['op_time_s']:.2f} s in T ANN passes\n"
        )
        rows = [
            [
                entry["op"],
                entry["category"],
                f"{entry['time_s'] * 1000:.0f}",
                f"{100 * entry['share']:.1f} %",
                f"{entry['count'] / record['timesteps']:.1f}",
                f"{ann_ops.get(entry['op'], 0) * 1000:.0f}",
                ", ".join(record["snn_op_names"].get(entry["op"], [])[:4]),
            ]
            for entry in snn["ops"][:10]
        ]
        header = ["op", "category", "SNN ms", "share", "kernels/step", "T×ANN ms", "op names"]
        lines.append(markdown_table(header, rows))
    return "\n".join(lines)


def run_profile(arguments) -> int:
    records = []
    for config in arguments.profile_configs:
        model, batch, steps = config.split(":")
        record = _subprocess(["--profile-single", model, batch, steps, "--repeats", str(arguments.repeats)])
        default = _subprocess(["--single", model, batch, steps, "None", "--repeats", str(arguments.repeats)])
        record["default_threading"] = {
            key: default[key] for key in ("ann_time_s", "snn_time_s", "ratio_snn_over_T_ann")
        }
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
    arguments = parser.parse_args(argv)
    if arguments.profile_single:
        model, batch, steps = arguments.profile_single
        print(json.dumps(profile_one(model, int(batch), int(steps), arguments.repeats)))
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
