"""spkeras against spikingjelly's ann2snn, side by side in one process run (issue 29 part 4).

Usage:
    python benchmarks/peers.py [--models vgg resnet mnist] [--timesteps 4 8 16 32 64] [--batch-sizes 100 1000]
        [--images 300] [--large-batch-timesteps 32] [--calibration-images 500] [--quick-epochs 10]
        [--output FILE.json]

Needs the optional extra ``peers``: CPU torch and spikingjelly (light install: ``pip install torch==2.13.0 tqdm
loguru`` and ``pip install spikingjelly --no-deps``); without them it prints why and exits 0.

For each network (the CIFAR-10 VGG-small and the MNIST CNN of benchmarks/methods_comparison.py, the ResNet-8 of
benchmarks/low_latency.py), in one process:

1. The trained Keras model comes from the benchmark cache (``benchmarks/cache/``, shared with
   methods_comparison.py / low_latency.py). When that cache is empty a short seeded version is trained with the
   same recipe and ``--quick-epochs`` epochs and cached separately (``benchmarks/cache/peers_quick/``); the JSON
   says which was used.
2. It is ported weight for weight to PyTorch (:func:`port_to_torch`: BatchNorm folded into the convolution before
   it, exactly as spkeras folds it; the Dense kernel after a Flatten permuted from NHWC to NCHW order) and the port
   is verified: the PyTorch logits equal the Keras logits within 1e-4 on a few images.
3. spkeras converts the Keras model and spikingjelly the PyTorch port (``ann2snn.Converter(RateCodingRecipe(...))``),
   each in the mode that is most accurate (mean over T ≤ 32) on the first ``--select-images`` test images among
   its candidates: :data:`SPKERAS_MODES` (``ecc`` with and without post-conversion threshold calibration, the
   default conversion, and symmetric signed neurons with and without it) and
   :data:`SJ_MODES` (layer-wise max / 99.9 % and channel-wise 99.9 % with half-threshold start).
   Both calibrate on the same training images.
4. For every T and batch size both simulate the same test images with analog (direct) input for exactly T steps
   (batches up to ``--images``: the first ``--images`` test images at every T; a larger batch: one batch of the
   first batch-size images at ``--large-batch-timesteps``, by default T = 32 only, to fit a run on 2 CPUs):
   spkeras through a compiled :class:`spkeras.simulate.Simulator`, spikingjelly in its documented single-step
   loop (``reset_net``, then T forward calls summed) under ``torch.inference_mode``, with torch's intra-op threads
   set to the faster of 1 and its default for each batch size (:func:`choose_torch_threads`; TensorFlow keeps its
   default thread pools). The two sides alternate (the order flips every repeat); each timing is the median of
   ``--repeats`` passes over all images, after a warm-up batch. Accuracy at T comes from the timed run.
5. In the same alternation, two bars: T compiled passes of the BN-folded Keras ANN and T passes of its PyTorch port
   per batch. *T×ANN / sj* is what a simulator that cost exactly T dense ANN passes on TensorFlow's kernels would
   reach against spikingjelly (the ceiling of any dense simulator here); *spkeras / (T×ANN)* is the strict ratio of
   docs/benchmarks.md on the trained models, and *sj / (T×torch ANN)* the same for spikingjelly.

Output: a table per network (image·steps/s and accuracy for both, the throughput ratio spkeras / spikingjelly and
the bars) and ``benchmarks/results/peers.json``.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import os
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from common import RESULTS, machine, markdown_table, write_json  # noqa: E402
from peers_compare import run_model  # noqa: E402
from peers_measure import DEFAULT_TORCH_THREADS  # noqa: E402

MODELS = ("vgg", "resnet", "mnist")


def peers_missing() -> str | None:
    """Why the peers cannot run (a missing package), or None."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return "torch is not installed (pip install 'spkeras[peers]' or pip install torch==2.13.0)"
    try:
        from spikingjelly.activation_based import ann2snn  # noqa: F401
    except ImportError as error:
        return f"spikingjelly is not importable ({error}); pip install tqdm loguru; pip install spikingjelly --no-deps"
    return None


def model_table(entry: dict) -> str:
    rows = [
        [
            row["batch_size"],
            row["timesteps"],
            row["images"],
            row["torch_threads"]["threads"],
            f"{row['spkeras']['image_steps_per_s']:.0f}",
            f"{row['spikingjelly']['image_steps_per_s']:.0f}",
            f"**{row['throughput_ratio']:.2f}**",
            f"{row['keras_ann']['image_steps_per_s']:.0f}",
            f"{row['ann_bound_ratio']:.2f}",
            f"{row['spkeras_over_T_ann']:.2f}",
            f"{row['spikingjelly_over_T_torch_ann']:.2f}",
            f"{100 * row['spkeras']['accuracy']:.1f}",
            f"{100 * row['spikingjelly']['accuracy']:.1f}",
        ]
        for row in entry["results"]
    ]
    header = [
        "batch",
        "T",
        "images",
        "torch threads",
        "spkeras img·steps/s",
        "spikingjelly img·steps/s",
        "ratio",
        "T×ANN img·steps/s",
        "T×ANN / sj",
        "spkeras / (T×ANN)",
        "sj / (T×torch ANN)",
        "spkeras %",
        "sj %",
    ]
    return markdown_table(header, rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--timesteps", type=int, nargs="+", default=[4, 8, 16, 32, 64])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--images", type=int, default=300, help="test images (the first N) for batches up to N")
    parser.add_argument(
        "--large-batch-timesteps",
        type=int,
        nargs="+",
        default=[32],
        help="T for batch sizes above --images (one batch of the first batch-size test images)",
    )
    parser.add_argument("--calibration-images", type=int, default=500)
    parser.add_argument("--select-images", type=int, default=100, help="test images used to pick sj's mode")
    parser.add_argument("--repeats", type=int, default=1, help="timed passes per side (median)")
    parser.add_argument("--quick-epochs", type=int, default=10, help="CIFAR epochs when no cached model exists")
    parser.add_argument("--output", default=str(RESULTS / "peers.json"))
    arguments = parser.parse_args(argv)
    missing = peers_missing()
    if missing:
        print(f"peers benchmark skipped: {missing}.")
        return 0
    import tensorflow as tf
    import torch

    report = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "torch": torch.__version__,
        "spikingjelly": importlib.metadata.version("spikingjelly"),
        "torch_default_threads": DEFAULT_TORCH_THREADS,
        "tensorflow_threads": [tf.config.threading.get_intra_op_parallelism_threads(), os.cpu_count()],
        "arguments": vars(arguments),
        "models": {},
    }
    for name in arguments.models:
        report["models"][name] = run_model(name, arguments)
        write_json(report, pathlib.Path(arguments.output))
    for entry in report["models"].values():
        print(f"\n### {entry['title']} (spikingjelly mode: {entry['spikingjelly']['mode']})\n")
        print(model_table(entry))
    print(f"\nwrote {arguments.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
