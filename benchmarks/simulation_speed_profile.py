"""The profile at the dense limit of benchmarks/simulation_speed.py --profile (issue 29 part 2): the strict ratio
and the op-level profile of one configuration, and their markdown tables; not a script."""

from __future__ import annotations

import collections
import time

from common import markdown_table
from simulation_speed_measure import median_time
from simulation_speed_models import timing_setup
from simulation_speed_ops import category, op_times

#: The lever measured in the profile (Grappler's arithmetic optimiser off) is timed up to this batch size only.
VARIANT_MAX_BATCH = 100


def profile_one(model_name, batch_size, timesteps, repeats):
    """Runs in a subprocess: the strict ratio and the op-level profile of one simulation and T ANN passes.

    TensorFlow runs with one inter-op thread here, so that ops do not overlap and each kernel's time is its own
    (intra-op parallelism is kept); the headline ratio comes from :func:`measure_bounds` with default threading.
    Also measures one lever without changing spkeras (batches up to ``VARIANT_MAX_BATCH``): Grappler's
    arithmetic optimiser off (it duplicates the spike casts, see the profile)."""
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_inter_op_parallelism_threads(1)

    from spkeras.simulate import Simulator

    snn, ann, x_tensor, y_tensor, seed = timing_setup(model_name, batch_size, timesteps)
    ann(x_tensor).numpy()
    simulator = Simulator(snn, timesteps)
    run = lambda: [value.numpy() for value in simulator.run_batch(x_tensor, y_tensor, seed)]  # noqa: E731
    reference = run()
    ann_times, snn_times = [], []
    for _ in range(repeats):  # interleaved, so that load changes on the machine hit both alike
        ann_times.append(median_time(lambda: ann(x_tensor).numpy(), 3))
        snn_times.append(median_time(run, 1))
    ann_time, snn_time = float(np.median(ann_times)), float(np.median(snn_times))
    variants = {}
    if batch_size <= VARIANT_MAX_BATCH:
        tf.config.optimizer.set_experimental_options({"arithmetic_optimization": False})
        variant = Simulator(snn, timesteps)
        run_variant = lambda: [value.numpy() for value in variant.run_batch(x_tensor, y_tensor, seed)]  # noqa: E731
        same = all(np.array_equal(a, b) for a, b in zip(reference, run_variant()))
        variant_times, baseline_times = [], []
        for _ in range(repeats):
            baseline_times.append(median_time(run, 1))
            variant_times.append(median_time(run_variant, 1))
        variant_ops, _ = op_times(run_variant)
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
    snn_ops, snn_examples = op_times(run)
    snn_profiled = time.perf_counter() - started
    started = time.perf_counter()
    ann_ops, _ = op_times(ann_passes)
    ann_profiled = time.perf_counter() - started

    def summary(ops, wall):
        total = sum(seconds for seconds, _ in ops.values())
        categories = collections.Counter()
        for op_type, (seconds, _) in ops.items():
            categories[category(op_type)] += seconds
        top = sorted(ops.items(), key=lambda item: -item[1][0])
        return {
            "profiled_wall_s": wall,
            "op_time_s": total,
            "categories_s": dict(categories),
            "ops": [
                {"op": op, "category": category(op), "time_s": seconds, "share": seconds / total, "count": count}
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
    header = ["model", "batch", "T", "SNN/(T×ANN)", "one-pass neuron", "synaptic only", "same, 1 inter-op thread"]
    header += ["arith. opt. off"] + categories
    rows = []
    for record in records:
        profile, variant = record["snn_profile"], record["variants"].get("arithmetic_optimization_off")
        shares = {key: value / profile["op_time_s"] for key, value in profile["categories_s"].items()}
        default_threading = record.get("default_threading", {})
        default = default_threading.get("ratio_snn_over_T_ann", float("nan"))
        bounds = [default_threading.get(f"{name}_ratio", float("nan")) for name in ("one_pass_neuron", "synaptic_only")]
        if variant:
            change = variant["snn_time_s"] / variant["baseline_snn_time_s"] - 1
            change = f"{100 * change:+.0f} % time{'' if variant['identical_results'] else ' (results differ)'}"
        rows.append(
            [
                record["model"],
                record["batch_size"],
                record["timesteps"],
                f"**{default:.2f}**",
                *[f"{bound:.2f}" for bound in bounds],
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
