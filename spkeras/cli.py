"""Command-line interface: ``spkeras convert | evaluate | info | demo``.

Errors in user input end with a one-line message on stderr and exit status 2 (no traceback).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import pathlib
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _load_arrays(path, kind: str):
    """Loads inputs (and labels) from an ``.npz`` file; uint8 images are scaled to [0, 1]."""
    import numpy as np

    path = pathlib.Path(path)
    if not path.is_file():
        raise ValueError(f"Data file not found. Received: {kind}='{path}'.")
    try:
        data = np.load(path)
    except Exception as error:
        raise ValueError(
            f"Could not read '{path}' as a NumPy .npz file: {error}. Received: {kind}='{path}'."
        ) from error
    keys = list(data.keys())
    x_key = next((k for k in ("x", "x_test", "x_calibration", "x_train") if k in keys), None)
    if x_key is None:
        raise ValueError(
            f"'{path}' has no input array. Received keys: {keys}. Store inputs under 'x' (or 'x_test', "
            "'x_calibration', 'x_train') and labels under 'y' (or the matching 'y_...')."
        )
    x = data[x_key]
    if x.dtype == np.uint8:
        x = x.astype("float32") / 255.0
    y_key = "y" + x_key[1:]
    y = data[y_key] if y_key in keys else None
    return x, y


def _fit_channels(x, model):
    """Adds a trailing channel axis when the model expects one and the data lacks it (e.g. MNIST arrays)."""
    expected = tuple(model.inputs[0].shape[1:])
    if x.ndim == len(expected) and expected[-1] == 1:
        return x[..., None]
    return x


def _convert(arguments) -> int:
    import spkeras

    model = spkeras.load_model(arguments.model)
    x, _ = _load_arrays(arguments.calibration, "--calibration")
    x = _fit_channels(x, model)
    if arguments.limit:
        x = x[: arguments.limit]
    options = {}
    for item in arguments.option or []:
        name, _, value = item.partition("=")
        if not name or not value:
            raise ValueError(f"--option expects NAME=VALUE. Received: '{item}'.")
        try:
            options[name] = json.loads(value)
        except json.JSONDecodeError:
            options[name] = value  # a plain string, e.g. spike_value=threshold
    output = pathlib.Path(arguments.output)
    if output.suffix != ".keras":
        raise ValueError(f"-o/--output must end in .keras. Received: '{output}'.")
    snn = spkeras.convert(
        model, x, method=arguments.method, timesteps=arguments.timesteps, verbose=not arguments.quiet, **options
    )
    spkeras.save_model(snn, output)
    print(f"converted {arguments.model} with method={arguments.method} -> {output}")
    return 0


def _evaluate(arguments) -> int:
    import keras

    import spkeras

    path = pathlib.Path(arguments.model)
    if not path.is_file():
        raise ValueError(f"Model file not found. Received: '{path}'.")
    snn = keras.saving.load_model(path, compile=False)
    x, y = _load_arrays(arguments.data, "--data")
    if y is None:
        raise ValueError(f"'{arguments.data}' has no labels. Received an .npz without 'y'/'y_test'.")
    x = _fit_channels(x, snn)
    if arguments.limit:
        x, y = x[: arguments.limit], y[: arguments.limit]
    result = spkeras.evaluate(
        snn,
        x,
        y,
        timesteps=arguments.timesteps,
        encoding=arguments.encoding,
        batch_size=arguments.batch_size,
        verbose=not arguments.quiet,
    )
    print(result.table())
    if arguments.json:
        from spkeras.metrics import summarize

        report = {**result.to_dict(), "metrics": summarize(snn, result)}
        pathlib.Path(arguments.json).write_text(json.dumps(report, indent=2))
        print(f"wrote {arguments.json}")
    if arguments.plot:
        from spkeras.plots import plot_accuracy

        plot_accuracy({"SNN": result}).savefig(arguments.plot, dpi=120, bbox_inches="tight")
        print(f"wrote {arguments.plot}")
    return 0


def _info(arguments) -> int:
    import spkeras
    from spkeras.convert import layer_report

    model = spkeras.load_model(arguments.model)
    report = layer_report(model, max_pooling=arguments.max_pooling)
    width = max(len(name) for name, _, _ in report) if report else 10
    print(f"model '{model.name}': input {tuple(model.inputs[0].shape[1:])}, {len(report)} layers")
    for name, kind, reason in report:
        status = "converts" if reason is None else f"REFUSED: {reason}"
        print(f"  {name:<{width}}  {kind:<24} {status}")
    refused = sum(reason is not None for _, _, reason in report)
    print("all layers convert" if not refused else f"{refused} layer(s) cannot be converted")
    return 0 if not refused else 1


def _demo(arguments) -> int:
    from spkeras.demo import run_demo

    report = run_demo(method=arguments.method, timesteps=arguments.timesteps, verbose=not arguments.quiet)
    result = report["result"]
    print(f"spkeras demo: bundled MNIST CNN, {result.num_images} test images, method={report['method']}")
    print(result.table(reference_accuracy=report["ann_accuracy"]))
    print(
        f"conversion {report['conversion_time_s']:.1f} s, simulation {report['simulation_time_s']:.1f} s "
        f"({result.timesteps} steps)"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``spkeras`` command."""
    from spkeras import __version__
    from spkeras.layers.encoders import ENCODINGS
    from spkeras.methods import available_methods

    parser = argparse.ArgumentParser(
        prog="spkeras",
        description="Convert trained Keras CNNs into spiking neural networks and simulate them.",
        epilog="Example: spkeras convert cnn.h5 --calibration data.npz --method ecc -T 64 -o snn.keras",
    )
    parser.add_argument("--version", action="version", version=f"spkeras {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens (INFO level)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    convert = commands.add_parser("convert", help="convert a .h5/.keras CNN into a spiking .keras model")
    convert.add_argument("model", help="source model (.h5 or .keras)")
    convert.add_argument("--calibration", required=True, help=".npz with calibration inputs under 'x' (or x_train)")
    convert.add_argument("--method", default="ecc", choices=available_methods(), help="conversion method (ecc)")
    convert.add_argument("-T", "--timesteps", type=int, default=64, help="time steps the SNN is meant for (64)")
    convert.add_argument("-o", "--output", required=True, help="output .keras file (written atomically)")
    convert.add_argument("--limit", type=int, help="use only the first N calibration samples")
    convert.add_argument(
        "--option", action="append", metavar="NAME=VALUE", help="method option, e.g. --option percentile=99.99"
    )
    convert.add_argument("--quiet", action="store_true", help="no progress bars")
    convert.set_defaults(handler=_convert)

    evaluate = commands.add_parser("evaluate", help="simulate a converted model and report accuracy per step")
    evaluate.add_argument("model", help="converted model (.keras)")
    evaluate.add_argument("--data", required=True, help=".npz with inputs 'x'/'x_test' and labels 'y'/'y_test'")
    evaluate.add_argument("-T", "--timesteps", type=int, default=64, help="number of time steps (64)")
    evaluate.add_argument("--encoding", default="analog", choices=ENCODINGS, help="input encoding (analog)")
    evaluate.add_argument("--batch-size", type=int, default=100, help="images simulated together (100)")
    evaluate.add_argument("--limit", type=int, help="evaluate only the first N samples")
    evaluate.add_argument("--json", help="write the result and metrics to this JSON file")
    evaluate.add_argument("--plot", help="save an accuracy-vs-time-steps plot (PNG) here")
    evaluate.add_argument("--quiet", action="store_true", help="no progress bars")
    evaluate.set_defaults(handler=_evaluate)

    info = commands.add_parser("info", help="list a model's layers and whether each converts (and why not)")
    info.add_argument("model", help="model file (.h5 or .keras)")
    info.add_argument("--max-pooling", default="average", choices=["average", "error"], help="MaxPooling2D policy")
    info.set_defaults(handler=_info)

    demo = commands.add_parser("demo", help="convert and simulate the bundled MNIST CNN")
    demo.add_argument("--method", default="ecc", choices=available_methods(), help="conversion method (ecc)")
    demo.add_argument("-T", "--timesteps", type=int, default=64, help="number of time steps (64)")
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    demo.set_defaults(handler=_demo)
    return parser


def main(argv=None) -> int:
    """Entry point of the ``spkeras`` command; returns the exit status."""
    parser = build_parser()
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if arguments.verbose else logging.WARNING, format="%(message)s")
    try:
        return arguments.handler(arguments)
    except (ValueError, TypeError, OSError) as error:
        message = " ".join(str(error).split())
        print(f"spkeras: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
