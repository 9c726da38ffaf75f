"""NIR export of the default conversion of every benchmark network: exported?, nodes, round trip, consumers.

Usage:
    python benchmarks/nir_export.py [--models mnist_cnn ...] [--images 8] [--timesteps 32]

For each network of the benchmarks (built untrained, seeded: the trained ones are not cached on every machine, and
the export is about structure and exactness, not accuracy) the default ``spkeras.convert`` on 64 training images is
exported with ``spkeras.export_nir`` to a ``.nir`` file and read back with ``nir.read`` (with nir's type check when
it passes; nir 1.0.8 infers grouped convolutions wrongly). Then, on ``--images`` test images for ``--timesteps``
steps:

- round trip: ``spkeras.import_nir`` of the file simulates bit-identically to the original (every spike train and
  the output of every step);
- reference: the graph in the NumPy interpreter of the NIR spec (tests/nir/reference.py, float32) gives the same
  spike count per layer and step and the same prediction at every step;
- sinabs: the graph run node by node in sinabs (tests/nir/test_sinabs.py; max-pool-free nets) agrees the same way.

The table is printed as markdown and written to benchmarks/results/nir_export.json.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT.parent))
import architectures  # noqa: E402
import low_latency  # noqa: E402
import max_pooling  # noqa: E402
import methods_comparison  # noqa: E402
from common import RESULTS, load_cifar, load_mnist, machine, markdown_table, write_json  # noqa: E402

MODELS = {  # name -> (builder, data set, input scale, where it is benchmarked)
    "mnist_cnn": (methods_comparison.mnist_cnn, "mnist", 1.0, "methods_comparison, accuracy_vs_timesteps"),
    "cifar_vgg_small": (methods_comparison.cifar_vgg_small, "cifar", 1.0, "methods_comparison, simulation_speed"),
    "mnist_max_pool": (max_pooling.mnist_net, "mnist", 1.0, "max_pooling"),
    "cifar_vgg_max_pool": (max_pooling.cifar_vgg, "cifar", 1.0, "max_pooling"),
    "cifar_resnet8": (low_latency.cifar_resnet8, "cifar", 1.0, "low_latency"),
    "mobilenet_style": (architectures.mobilenet_style, "cifar", 255.0, "architectures --trained"),
}


def agree(trains, counts_of, outputs, theirs) -> dict:
    """How far a consumer agrees: spike counts per (layer, step, image) that differ, summed, against all spikes; the
    share of equal counts; the share of (step, image) predictions that are equal."""
    equal, total, differing, spikes = 0, 0, 0, 0
    for name, train in trains.items():
        axes = tuple(range(2, train.ndim))
        mine, other = (train != 0).sum(axis=axes), counts_of[name].sum(axis=axes)
        equal, total = equal + int((mine == other).sum()), total + mine.size
        differing, spikes = differing + int(np.abs(mine - other).sum()), spikes + int(mine.sum())
    predictions = np.cumsum(outputs, axis=0).argmax(-1) == theirs.argmax(-1)
    return {
        "spikes_differing": differing,
        "spikes": spikes,
        "counts_equal": equal / total,
        "predictions_equal": float(predictions.mean()),
    }


def measure(name, data, images, timesteps) -> dict:
    import keras
    import nir

    import spkeras
    from tests.nir import networks

    builder, _, scale, where = MODELS[name]
    keras.utils.set_random_seed(0)
    model = builder()
    snn = spkeras.convert(model, data["x_train"][:64] * scale)
    row = {"model": name, "benchmark": where, "layers": [type(layer).__name__ for layer in snn.layers]}
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / f"{name}.nir"
        started = time.perf_counter()
        try:
            spkeras.export_nir(snn, path)
        except spkeras.nir.NIRConversionError as error:
            return {**row, "exported": False, "refusal": str(error)}
        row["export_s"] = time.perf_counter() - started
        try:
            graph, row["type_check"] = nir.read(path), True
        except ValueError:
            graph, row["type_check"] = nir.read(path, type_check=False), False
        back = spkeras.import_nir(path)
    row.update(exported=True, nodes=len(graph.nodes), edges=len(graph.edges))
    x = data["x_test"][:images] * scale
    trains = spkeras.simulate.spike_trains(snn, x, timesteps=timesteps)
    again = spkeras.simulate.spike_trains(back, x, timesteps=timesteps)
    outputs = networks.spkeras_outputs(snn, x, timesteps)
    row["round_trip_identical"] = (
        list(trains) == list(again)
        and all(np.array_equal(trains[k], again[k]) for k in trains)
        and bool(np.array_equal(outputs, networks.spkeras_outputs(back, x, timesteps)))
    )
    _, spikes, _, nir_output = networks.compare(snn, graph, x, timesteps, dtype="float32")
    consumers = {"reference": agree(trains, spikes, outputs, nir_output)}
    if "SpikingMaxPooling2D" not in row["layers"]:
        try:
            from tests.nir.test_sinabs import run_in_sinabs
        except BaseException:  # noqa: BLE001 - pytest's Skipped when sinabs or torch is missing
            run_in_sinabs = None
        if run_in_sinabs is not None:
            theirs, raw = run_in_sinabs(graph, x, timesteps)
            counts = {k.removesuffix(".threshold"): v for k, v in raw.items()}
            counts = {k: np.transpose(v, (0, 1, 3, 4, 2)) if v.ndim == 5 else v for k, v in counts.items()}
            consumers["sinabs"] = agree(trains, counts, outputs, theirs)
    row["consumers"] = consumers
    row["spikes"] = int(sum(train.sum() for train in trains.values()))
    return row


def table(rows) -> str:
    lines = []
    for row in rows:
        consumers = ", ".join(
            f"{k}: {v['spikes_differing']} of {v['spikes']} spikes differ, predictions {v['predictions_equal']:.1%}"
            for k, v in row.get("consumers", {}).items()
        )
        lines.append(
            [
                row["model"],
                "y" if row["exported"] else "n",
                str(row.get("nodes", "—")),
                ("y" if row["round_trip_identical"] else "n") if row["exported"] else "—",
                consumers,
                ("y" if row["type_check"] else "n (type_check=False)") if row["exported"] else "—",
            ]
        )
    header = ["model", "exported", "nodes", "round trip identical", "consumers (equal)", "nir.read type check"]
    return markdown_table(header, lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=list(MODELS))
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--timesteps", type=int, default=32)
    arguments = parser.parse_args(argv)
    data = {"mnist": load_mnist(), "cifar": load_cifar()}
    rows = []
    for name in arguments.models:
        started = time.perf_counter()
        rows.append(measure(name, data[MODELS[name][1]], arguments.images, arguments.timesteps))
        rows[-1]["total_s"] = time.perf_counter() - started
        print(f"{name}: {rows[-1].get('nodes')} nodes, {rows[-1]['total_s']:.0f} s", flush=True)
    print(table(rows))
    settings = {"images": arguments.images, "timesteps": arguments.timesteps, "weights": "untrained, seed 0"}
    write_json({"settings": settings, "rows": rows, "machine": machine()}, RESULTS / "nir_export.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
