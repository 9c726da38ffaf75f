"""Ultra-low latency (issue 16): QCFS fine-tuning against post-training conversion, T = 1 ... 32.

Usage:
    python benchmarks/ultra_low_latency.py [--models vgg resnet mnist] [--levels 4 8]
        [--timesteps 1 2 4 8 16 32] [--cifar-limit 1000] [--mnist-limit 10000] [--mnist-train 60000]
        [--cifar-epochs 20] [--mnist-epochs 3] [--cifar-lr 5e-4] [--mnist-lr 2e-4] [--calibration-images 500]
        [--modes bias potential per_step] [--presim cos:1 srp:2] [--ecc-mode advanced] [--skip-ecc] [--resume]
        [--analysis auto|none|all]
        [--output-dir benchmarks/results]

Reference ReLU networks (trained once, seeded, cached in benchmarks/cache/):

- ``vgg``: the CIFAR-10 VGG-small and ``mnist``: the MNIST CNN of benchmarks/methods_comparison.py
  (``reference_model``);
- ``resnet``: the width-reduced CIFAR-10 ResNet-8 of benchmarks/low_latency.py (``load_network("resnet")``; if that
  file cannot be imported, a compatible builder defined here, sharing its cache name ``cifar_resnet8``).

For each network and each L in ``--levels`` the ReLU network is fine-tuned with ``spkeras.finetune`` (QCFS
activations, λ from the training images; CIFAR: the 4,000 training images with flip + translation augmentation;
MNIST: the first ``--mnist-train`` training images) and cached. The ReLU ANN and each fine-tuned ANN are evaluated
on the test images (CIFAR: the first ``--cifar-limit`` of the 4,593 test images, default 1,000; MNIST: the first
``--mnist-limit``, default all 10,000). SNN accuracies at T = 1, 2, 4, 8, 16, 32:

- ``ecc + <ecc-mode>``: the best post-training pipeline of the calibration benchmark, converted from the ReLU
  network and calibrated for each T (``--calibration-images`` seeded training images), simulated for exactly T;
- ``QCFS L``: ``spkeras.convert(tuned, None, timesteps=T)`` (θ = λ, v_init 0.5, no data); one simulation of the
  largest T gives every T (nothing in it depends on T);
- ``QCFS L + <mode>``: the same with ``calibrate=<mode>`` for each mode of ``--modes``, calibrated for each T;
- ``QCFS L + cos ρ=r`` / ``srp ρ=r`` (``--presim cos:r``): ``method="cos"``/``"srp"`` with ``base="qcfs"`` and
  ``presim_steps=r``; the r pre-simulation steps are counted in T (column T = r pre-simulation + T − r corrected
  steps), one simulation of the largest T gives every T.

Targets (loss = fine-tuned ANN − SNN on the same images, percentage points): fine-tuned ANN within 1 pp of the ReLU
ANN; CIFAR (both networks) loss ≤ 1 at T=4 and ≤ 0.3 at T=8; MNIST SNN ≥ ReLU ANN at T=2. For missed targets,
``--analysis auto`` measures the per-layer rate error of the QCFS SNN against the QCFS ANN's activations (T = L and
T ≠ L) and writes ``ultra_low_latency_analysis.md``. Results go to ``ultra_low_latency.json`` (written atomically
after every cell; ``--resume`` continues an interrupted run) and ``ultra_low_latency.md``.
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

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from common import RESULTS, machine, write_json  # noqa: E402
from methods_comparison_networks import SEED  # noqa: E402
from methods_comparison_report import spkeras_source  # noqa: E402
from ultra_low_latency_measure import run_model  # noqa: E402
from ultra_low_latency_report import TITLES, finetune_table, markdown, snn_table  # noqa: E402

MODELS = ("vgg", "resnet", "mnist")
TIMESTEPS = (1, 2, 4, 8, 16, 32)
MODES = ("bias", "potential", "per_step")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--levels", nargs="+", type=int, default=[4, 8])
    parser.add_argument("--mnist-levels", nargs="+", type=int, default=[2, 4, 8], help="L for MNIST (2: L = T = 2)")
    parser.add_argument("--timesteps", nargs="+", type=int, default=list(TIMESTEPS))
    parser.add_argument("--cifar-limit", type=int, default=1000)
    parser.add_argument("--mnist-limit", type=int, default=None)
    parser.add_argument("--mnist-train", type=int, default=60000, help="fine-tune MNIST on the first N images")
    parser.add_argument("--cifar-epochs", type=int, default=20)
    parser.add_argument("--mnist-epochs", type=int, default=3)
    parser.add_argument("--cifar-lr", type=float, default=5e-4)
    parser.add_argument("--mnist-lr", type=float, default=2e-4)
    parser.add_argument("--calibration-images", type=int, default=500)
    parser.add_argument("--modes", nargs="*", default=list(MODES), help="calibrate= modes; a+b combines modes")
    parser.add_argument("--mode-max-t", type=int, default=8, help="calibrate QCFS only for T up to this")
    parser.add_argument(
        "--presim",
        nargs="*",
        default=[],
        help="rows 'QCFS L + cos/srp ρ': METHOD:RHO, e.g. cos:1 srp:2 (ρ pre-simulation steps, counted in T)",
    )
    parser.add_argument(
        "--signed",
        nargs="*",
        type=float,
        default=[],
        help="rows 'QCFS L + signed f': method qcfs with ternary neurons, negative_threshold=f (0: symmetric rule)",
    )
    parser.add_argument("--signed-modes", nargs="*", default=[], help="calibrate= modes also run on the signed rows")
    parser.add_argument("--ecc-mode", default="advanced")
    parser.add_argument("--skip-ecc", action="store_true")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--analysis", choices=("auto", "none", "all"), default="auto")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--output-dir", default=str(RESULTS))
    arguments = parser.parse_args(argv)
    output = pathlib.Path(arguments.output_dir)
    json_path, md_path = output / "ultra_low_latency.json", output / "ultra_low_latency.md"
    settings = {k: v for k, v in vars(arguments).items() if k not in ("resume", "output_dir")}
    report = None
    if arguments.resume and json_path.is_file():
        report = json.loads(json_path.read_text())
        report["settings"] = settings
    report = report or {"date": None, "settings": settings, "models": {}}
    report.update(date=datetime.date.today().isoformat(), machine=machine(), spkeras=spkeras_source())

    def save():
        write_json(report, json_path)
        temporary = md_path.with_suffix(".md.tmp")
        temporary.write_text(markdown(report))
        os.replace(temporary, md_path)

    keras.utils.set_random_seed(SEED)
    for name in arguments.models:
        started = time.perf_counter()
        entry = run_model(name, arguments, report, save)
        entry["benchmark_seconds"] = entry.get("benchmark_seconds", 0) + time.perf_counter() - started
        save()
        print(f"\n## {TITLES[name]} ({entry['test_images']} test images)\n")
        print(finetune_table(entry) + "\n")
        print(snn_table(entry, sorted(arguments.timesteps)) + "\n")
        print("\n".join(f"- {line}" for line in entry["targets"]["lines"]) + "\n", flush=True)
    print(f"wrote {json_path}, {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
