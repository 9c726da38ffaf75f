"""keras.applications architectures (weights=None, 32×32 CIFAR input): which convert, and how closely the SNN tracks.

Usage:
    python benchmarks/architectures.py [--architectures VGG16 ResNet50 ...] [--timesteps 256] [--images 16]
                                       [--batchnorm data|default] [--method ecc] [--refresh]
    python benchmarks/architectures.py --trained [--test-images 1000] [--methods ecc robust]

``--trained``: a small MobileNet-style CIFAR-10 net written the way the Keras tutorials write models (a nested
``Sequential`` of augmentation layers, ``Rescaling(1/255)`` inside, so it takes 0–255 images; ReLU6, depthwise
blocks, inverted residuals with linear bottlenecks), trained on the 4,000 CIFAR-10 training images of the shared
subset (seeded; cached in benchmarks/cache/), then converted and simulated: ANN accuracy and SNN accuracy at
t = 16, 32, 64, 128, 256 per method on the first ``--test-images`` test images (results cached in
benchmarks/results/architectures.json under "trained").

For each architecture: the model is built with ``weights=None``, ``input_shape=(32, 32, 3)``, ``classes=10`` and a
fixed seed. Untrained batch norms (mean 0, variance 1) leave activations unnormalised, unlike a trained network, so
by default (``--batchnorm data``) each BatchNormalization's moving statistics are set to the batch statistics of
its input on the calibration images (one training-mode pass with momentum 0); ``--batchnorm default`` keeps them.
The model is converted (``--method``, calibration on ``--calibration`` CIFAR training images) and simulated for T
steps on ``--images`` CIFAR test images; the fidelity measure is the Pearson correlation between the SNN's mean
output current per step (``spkeras.simulate.record(...)["output"]``, in logit units) and the folded ANN's logits,
over all images × classes, at t = 64 and t = T, plus the top-1 agreement and the mean absolute error relative to the
mean |logit|; as a reference, the same measure for the folded ANN with every ReLU output rounded to T levels of its
calibration maximum (what an ideal T-step rate code carries). Architectures that are refused list the layer types
and reasons that block them (``spkeras.conversion.layer_report``).

Results are cached per configuration in benchmarks/results/architectures.json (``--refresh`` recomputes) and
printed as a markdown table.
"""

from __future__ import annotations

import argparse
import sys

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from architectures_measure import REPORT_STEPS, measure, measure_trained  # noqa: E402
from architectures_networks import mobilenet_style as mobilenet_style  # noqa: E402 (re-exported)
from common import RESULTS, load_cifar, machine, markdown_table, write_json  # noqa: E402

# mobilenet_style is re-exported: benchmarks/calibration_cost.py and benchmarks/nir_export.py import it from here.

CONVERTIBLE = ["VGG16", "ResNet50", "ResNet50V2", "MobileNet", "MobileNetV2", "DenseNet121"]
REFUSED = ["EfficientNetB0", "ConvNeXtTiny"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--architectures", nargs="+", default=CONVERTIBLE + REFUSED)
    parser.add_argument("--timesteps", type=int, default=256)
    parser.add_argument("--images", type=int, default=16, help="CIFAR test images simulated")
    parser.add_argument("--calibration", type=int, default=64, help="CIFAR training images for calibration")
    parser.add_argument("--method", default="robust")
    parser.add_argument("--batchnorm", choices=["data", "default"], default="data")
    parser.add_argument("--refresh", action="store_true", help="recompute cached results")
    parser.add_argument("--output", default=str(RESULTS / "architectures.json"))
    parser.add_argument("--trained", action="store_true", help="the trained MobileNet-style net instead")
    parser.add_argument("--test-images", type=int, default=1000, help="test images for --trained")
    parser.add_argument("--methods", nargs="+", default=["ecc", "robust"], help="methods for --trained")
    parser.add_argument("--calibrate", default=None, help="post-conversion calibration for --trained (for T=128)")
    arguments = parser.parse_args(argv)

    import json
    import pathlib

    cifar = load_cifar()
    if arguments.trained:
        return run_trained(cifar, arguments)
    x_calibration = cifar["x_train"][: arguments.calibration]
    x_test = cifar["x_test"][: arguments.images]
    output = pathlib.Path(arguments.output)
    cache = json.loads(output.read_text()) if output.is_file() else {"results": {}}
    for name in arguments.architectures:
        key = f"{name}|{arguments.method}|T={arguments.timesteps}|n={arguments.images}|bn={arguments.batchnorm}"
        if key in cache["results"] and not arguments.refresh:
            continue
        cache["results"][key] = measure(
            name, x_calibration, x_test, arguments.timesteps, arguments.method, arguments.batchnorm
        )
        cache["machine"] = machine()
        write_json(cache, output)  # after each architecture: an interrupted run keeps what it measured

    rows = []
    for name in arguments.architectures:
        key = f"{name}|{arguments.method}|T={arguments.timesteps}|n={arguments.images}|bn={arguments.batchnorm}"
        result = cache["results"][key]
        if not result["converts"]:
            blocked = "; ".join(f"{b['type']} ×{b['count']}: {b['reason'].split('. ')[0]}" for b in result["blockers"])
            rows.append([name, result["layers"], "refused", "", "", "", "", blocked])
            continue
        final = result[f"at_{arguments.timesteps}"]
        rows.append(
            [
                name,
                result["layers"],
                result["spiking_layers"],
                f"{result['at_64']['correlation']:.4f}",
                f"{final['correlation']:.4f}",
                f"{result[f'quantised_ann_at_{arguments.timesteps}']['correlation']:.4f}",
                f"{final['top1_agreement']:.2f}",
                f"rel. error {final['relative_error']:.3f}; {result.get('max_pools', 0)} spiking max pools; "
                f"convert {result['convert_s']:.0f} s, simulate {result['simulate_s']:.0f} s",
            ]
        )
    t = arguments.timesteps
    header = ["architecture", "layers", "spiking layers", "r (t=64)", f"r (t={t})", f"r, {t}-level ANN", "top-1"]
    header.append("notes")
    print(markdown_table(header, rows))
    return 0


def run_trained(cifar, arguments) -> int:
    import json
    import pathlib

    output = pathlib.Path(arguments.output)
    cache = json.loads(output.read_text()) if output.is_file() else {"results": {}}
    key = f"mobilenet_style|n={arguments.test_images}|{'+'.join(arguments.methods)}"
    if arguments.calibrate:
        key += f"|calibrate={arguments.calibrate}"
    trained = cache.setdefault("trained", {})
    if key not in trained or arguments.refresh:
        trained[key] = measure_trained(cifar, arguments.test_images, arguments.methods, arguments.calibrate)
        cache["machine"] = machine()
        write_json(cache, output)
    result = trained[key]
    header = ["method", "ANN"] + [f"t = {t}" for t in REPORT_STEPS]
    rows = [
        [method, f"{100 * result['ann_accuracy']:.2f}"]
        + [f"{100 * result[method]['accuracy'][str(t)]:.2f}" for t in REPORT_STEPS]
        for method in arguments.methods
    ]
    print(markdown_table(header, rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
