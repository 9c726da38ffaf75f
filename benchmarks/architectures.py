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
import collections
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from common import RESULTS, load_cifar, machine, markdown_table, write_json  # noqa: E402

SEED = 0
TRAINED_EPOCHS = 30
REPORT_STEPS = (16, 32, 64, 128, 256)

CONVERTIBLE = ["VGG16", "ResNet50", "ResNet50V2", "MobileNet", "MobileNetV2", "DenseNet121"]
REFUSED = ["EfficientNetB0", "ConvNeXtTiny"]


def build(name: str, seed: int = 0):
    """The keras.applications model ``name`` with random weights for 32×32×3 inputs and 10 classes."""
    import keras

    keras.utils.set_random_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # input-size notices for weights that are not loaded
        return getattr(keras.applications, name)(weights=None, input_shape=(32, 32, 3), classes=10)


def batchnorm_from_data(model, x) -> None:
    """Sets every BatchNormalization's moving statistics to its input's batch statistics on ``x``."""
    import keras

    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    momenta = [layer.momentum for layer in norms]
    for layer in norms:
        layer.momentum = 0.0
    model(x, training=True)
    for layer, momentum in zip(norms, momenta):
        layer.momentum = momentum


def blockers(model) -> list[dict]:
    """The refused layers of ``model`` grouped by type and reason: ``{"type", "reason", "count"}``."""
    from spkeras.conversion import layer_report

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = layer_report(model)
    counts = collections.Counter((kind, reason) for _, kind, reason in report if reason is not None)
    return [{"type": kind, "reason": reason, "count": count} for (kind, reason), count in counts.most_common()]


def fidelity(snn_output: np.ndarray, logits: np.ndarray) -> dict:
    """Correlation, top-1 agreement and relative mean absolute error of SNN outputs against ANN logits."""
    return {
        "correlation": float(np.corrcoef(snn_output.ravel(), logits.ravel())[0, 1]),
        "top1_agreement": float(np.mean(snn_output.argmax(-1) == logits.argmax(-1))),
        "relative_error": float(np.abs(snn_output - logits).mean() / np.abs(logits).mean()),
    }


def quantised_logits(folded, x_calibration, x, timesteps: int) -> np.ndarray:
    """Logits of the folded ANN with every ReLU output rounded to T levels of its calibration maximum.

    This is what an ideal rate code with T steps can carry (each neuron's count rounded, as ECC's θ/2 start
    does); it shows how much of the SNN's deviation a random, untrained network amplifies by itself.
    """
    import keras

    from spkeras import graph

    nodes = graph.model_graph(folded)
    relus = [i for i, node in enumerate(nodes) if isinstance(node.layer, keras.layers.ReLU)]
    probe = keras.Model(folded.inputs, [nodes[i].layer.output for i in relus])
    maxima = [np.max(value) for value in probe.predict(x_calibration, verbose=0)]
    values = {0: x}
    for i, node in enumerate(nodes[1:], start=1):
        value = keras.ops.convert_to_numpy(graph.call_layer(node.layer, [values[j] for j in node.inputs]))
        if i in relus:
            top = max(float(maxima[relus.index(i)]), 1e-12)
            value = np.clip(np.floor(value / top * timesteps + 0.5), 0, timesteps) / timesteps * top
        values[i] = value
    return values[len(nodes) - 1]


def measure(name, x_calibration, x_test, timesteps, method, batchnorm) -> dict:
    import spkeras
    from spkeras.conversion import fold_model
    from spkeras.simulate import record

    model = build(name)
    if batchnorm == "data":
        batchnorm_from_data(model, x_calibration)
    layers = len(model.layers)
    blocked = blockers(model)
    if blocked:
        return {"architecture": name, "converts": False, "layers": layers, "blockers": blocked}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # conversion notices (e.g. untrained BN statistics); max pools counted below
        max_pools = sum(type(layer).__name__ == "MaxPooling2D" and max(layer.pool_size) > 1 for layer in model.layers)
        folded = fold_model(model)
        logits = folded.predict(x_test, verbose=0)
        quantised = quantised_logits(folded, x_calibration, x_test, timesteps)
        started = time.perf_counter()
        snn = spkeras.convert(model, x_calibration, method=method, timesteps=timesteps)
        converted = time.perf_counter() - started
    started = time.perf_counter()
    early = record(snn, x_test, timesteps=min(64, timesteps))["output"]
    late = record(snn, x_test, timesteps=timesteps)["output"]
    simulated = time.perf_counter() - started
    neurons = sum(getattr(layer, "spiking_neuron", False) for layer in snn.layers)
    return {
        "architecture": name,
        "converts": True,
        "layers": layers,
        "spiking_layers": int(neurons),
        "max_pools": int(max_pools),  # converted with the default policy, max_pooling="spiking"
        "at_64": fidelity(early, logits),
        f"at_{timesteps}": fidelity(late, logits),
        f"quantised_ann_at_{timesteps}": fidelity(quantised, logits),
        "ann_logit_std": float(logits.std()),
        "convert_s": converted,
        "simulate_s": simulated,
    }


def mobilenet_style():
    """The small MobileNet-style CIFAR-10 net of ``--trained`` (untrained)."""
    import keras

    layers = keras.layers
    augmentation = keras.Sequential(
        [layers.RandomFlip("horizontal", seed=SEED), layers.RandomTranslation(0.1, 0.1, seed=SEED)],
        name="augmentation",
    )

    def conv_bn(x, filters, kernel=1, strides=1, relu=True):
        x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        return layers.ReLU(6.0)(x) if relu else x

    def inverted_residual(x, filters, strides, expansion=3):
        inputs = x
        x = conv_bn(x, int(x.shape[-1]) * expansion)
        x = layers.DepthwiseConv2D(3, strides=strides, padding="same", use_bias=False)(x)
        x = layers.ReLU(6.0)(layers.BatchNormalization()(x))
        x = conv_bn(x, filters, relu=False)  # linear bottleneck
        if strides == 1 and int(inputs.shape[-1]) == filters:
            x = layers.Add()([inputs, x])
        return x

    inputs = keras.Input((32, 32, 3))
    x = layers.Rescaling(1.0 / 255)(augmentation(inputs))
    x = conv_bn(x, 32, kernel=3)
    x = inverted_residual(x, 32, 1)
    x = inverted_residual(x, 48, 2)
    x = inverted_residual(x, 48, 1)
    x = inverted_residual(x, 64, 2)
    x = inverted_residual(x, 64, 1)
    x = conv_bn(x, 128)
    x = layers.Dropout(0.2)(layers.GlobalAveragePooling2D()(x))
    return keras.Model(inputs, layers.Dense(10)(x), name="mobilenet_style")


def trained_mobilenet_style(cifar):
    """The trained net (0–255 inputs) and its training record, from the cache if there."""
    import json
    import pathlib

    import keras

    import spkeras

    cache = pathlib.Path(__file__).resolve().parent / "cache"
    path, info_path = cache / "architectures_mobilenet_style.keras", cache / "architectures_mobilenet_style.json"
    if path.is_file() and info_path.is_file():
        return spkeras.load_model(path), json.loads(info_path.read_text())
    keras.utils.set_random_seed(SEED)
    model = mobilenet_style()
    steps = TRAINED_EPOCHS * int(np.ceil(len(cifar["x_train"]) / 64))
    model.compile(
        optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(3e-3, steps, alpha=0.02)),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    started = time.perf_counter()
    model.fit(cifar["x_train"] * 255.0, cifar["y_train"], batch_size=64, epochs=TRAINED_EPOCHS, verbose=2)
    info = {
        "epochs": TRAINED_EPOCHS,
        "batch_size": 64,
        "optimizer": "Adam, cosine decay from 3e-3",
        "train_images": len(cifar["x_train"]),
        "parameters": int(model.count_params()),
        "train_time_s": time.perf_counter() - started,
        "seed": SEED,
    }
    cache.mkdir(parents=True, exist_ok=True)
    spkeras.save_model(model, path)
    write_json(info, info_path)
    return model, info


def measure_trained(cifar, test_images: int, methods: list[str], calibrate: str | None = None) -> dict:
    import spkeras

    model, info = trained_mobilenet_style(cifar)
    x_test = cifar["x_test"][:test_images] * 255.0
    y_test = cifar["y_test"][:test_images]
    x_calibration = cifar["x_train"][:1000] * 255.0
    ann = float(np.mean(np.argmax(model.predict(x_test, verbose=0), -1) == y_test))
    result = {"model": "mobilenet_style", "training": info, "test_images": len(x_test), "ann_accuracy": ann}
    for method in methods:
        started = time.perf_counter()
        timesteps = 128 if calibrate else max(REPORT_STEPS)  # calibration tunes for the T of the target
        snn = spkeras.convert(model, x_calibration, method=method, timesteps=timesteps, calibrate=calibrate)
        converted = time.perf_counter() - started
        started = time.perf_counter()
        run = spkeras.evaluate(snn, x_test, y_test, timesteps=max(REPORT_STEPS))
        result[method] = {
            "accuracy": {str(t): run.accuracy_at(t) for t in REPORT_STEPS},
            "convert_s": converted,
            "evaluate_s": time.perf_counter() - started,
        }
    return result


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
