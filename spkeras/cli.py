"""Command-line interface: ``spkeras convert | evaluate | info | demo``.

Standard output carries the results (tables, ``wrote FILE``); progress bars, log messages and errors go to
standard error. Every argument is checked before any work starts: input files exist and are model or ``.npz``
files, every output folder exists and is writable, every output has a supported extension, and ``--plot`` has
matplotlib. A problem in the user's input ends with one line, ``spkeras: error: ...``, on stderr and exit
status 2 (no traceback, no partial output file).

``spkeras --help`` and ``spkeras --version`` do not import TensorFlow. The other commands import it once, with
TensorFlow's start-up log lines (oneDNN notices, "could not find cuda drivers", ``failed call to cuInit`` on
machines without a GPU) filtered out, unless ``TF_CPP_MIN_LOG_LEVEL`` is set in the environment: then
TensorFlow logs exactly as configured.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import logging
import os
import pathlib
import re
import sys
import tempfile

# Names listed here so that building the parser imports no TensorFlow. --method and --calibrate are checked
# against the library after parsing (so a new method or calibration mode works before it is listed here);
# tests/cli check that every listed name exists there.
METHOD_NAMES = ("augmapping", "channelwise", "ecc", "max", "opi", "robust", "termapping")
ENCODING_NAMES = ("analog", "poisson", "count")
# Post-conversion calibration: the modes and pipelines of spkeras.calibration.post, and "none".
CALIBRATION_NAMES = ("none", "threshold", "bias", "potential", "light", "advanced")
# Extensions --plot accepts; matplotlib picks the format by the extension.
PLOT_SUFFIXES = (".png", ".pdf", ".svg")

EXIT_OK, EXIT_REFUSED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130

EXIT_STATUS_TEXT = """exit status:
  0  success
  1  'info' found layers that cannot be converted
  2  bad input: a missing or unreadable file, a wrong extension, an unwritable output folder, a missing
     optional dependency (matplotlib for --plot), bad data or options; one line on stderr, before any work
"""

# TensorFlow's C++ start-up lines (absl format, e.g. "I0000 00:00:1796... 123 port.cc:153] oneDNN ...").
_ABSL_LINE = re.compile(r"^[IWEF]\d{4} [\d:.]+\s+\d+ [\w.\-]+:\d+\] ")
_HARMLESS_ERRORS = re.compile(r"cuInit|cuda|CUDA|cuDNN|cuFFT|cuBLAS|TensorRT|Unable to register")
_STARTUP_NOISE = (
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "To enable the following instructions:",
)


class UsageError(ValueError):
    """A problem with the command line or its files, found before any work starts."""


# ----------------------------------------------------------------------------------------------------------
# TensorFlow start-up


def _startup_line_is_noise(line: str) -> bool:
    if line.startswith(_STARTUP_NOISE):
        return True
    if _ABSL_LINE.match(line):
        return line[0] in "IW" or (line[0] == "E" and bool(_HARMLESS_ERRORS.search(line)))
    return False


def start_tensorflow() -> None:
    """Imports TensorFlow and initialises its devices, dropping TensorFlow's start-up log lines.

    TensorFlow writes those lines from C++ straight to file descriptor 2, before its log level is read, so
    ``TF_CPP_MIN_LOG_LEVEL`` alone cannot silence them: standard error is redirected to a temporary file for
    the import and the first operation, and every line that is not start-up noise is written back. When the
    user set ``TF_CPP_MIN_LOG_LEVEL``, nothing is filtered.

    Examples:
        >>> start_tensorflow()  # once TensorFlow is imported, a no-op
        >>> import sys
        >>> "tensorflow" in sys.modules
        True
    """
    if "tensorflow" in sys.modules:
        return
    if "TF_CPP_MIN_LOG_LEVEL" in os.environ:  # the user decided: log exactly as configured
        import tensorflow as tf

        tf.zeros(())
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    sys.stderr.flush()
    saved = os.dup(2)
    ok = False
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), 2)
        try:
            import tensorflow as tf

            tf.zeros(())  # the first operation initialises the devices (and logs about CUDA)
            ok = True
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read().decode("utf-8", errors="replace")
            lines = text.splitlines(keepends=True)
            kept = [line for line in lines if not _startup_line_is_noise(line)] if ok else lines
            sys.stderr.write("".join(kept))
            sys.stderr.flush()


@contextlib.contextmanager
def _results_stay_on_stdout():
    """Sends everything printed during the work (Keras progress bars) to stderr; stdout keeps the results."""
    with contextlib.redirect_stdout(sys.stderr):
        yield


# ----------------------------------------------------------------------------------------------------------
# Checking arguments before any work


def _check_output(path, option: str, suffixes: tuple[str, ...]) -> pathlib.Path:
    """An output path: supported extension, existing writable folder, not a folder itself."""
    path = pathlib.Path(path)
    if path.suffix.lower() not in suffixes:
        expected = " or ".join(suffixes) if len(suffixes) < 3 else ", ".join(suffixes[:-1]) + " or " + suffixes[-1]
        raise UsageError(f"{option} must end in {expected}. Received: {option}='{path}'.")
    if path.is_dir():
        raise UsageError(f"{option} is a folder; give a file name. Received: {option}='{path}'.")
    folder = path.parent
    if not folder.is_dir():
        raise UsageError(f"The folder '{folder}' of {option} does not exist. Received: {option}='{path}'.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"The folder '{folder}' of {option} is not writable. Received: {option}='{path}'.")
    return path


def _check_data_file(path, option: str) -> pathlib.Path:
    path = pathlib.Path(path)
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "not found"
        raise UsageError(f"Data file {what}. Received: {option}='{path}'.")
    if path.suffix.lower() != ".npz":
        raise UsageError(f"{option} must be a NumPy .npz file (numpy.savez). Received: {option}='{path}'.")
    return path


def _check_model_file(path, argument: str) -> pathlib.Path:
    from spkeras.io import check_model_file

    try:
        return check_model_file(path, argument)
    except ValueError as error:
        raise UsageError(str(error)) from error


def _check_matplotlib() -> None:
    try:
        importlib.import_module("matplotlib")
    except ImportError as error:
        raise UsageError(
            "--plot needs matplotlib, which is not installed: pip install 'spkeras[plots]' (or pip install "
            f"matplotlib), or leave out --plot. ({error})"
        ) from None


def _check_method(name: str) -> str:
    from spkeras.methods import available_methods

    if name not in available_methods():
        raise UsageError(f"Unknown --method. Received: --method={name!r}; available: {', '.join(available_methods())}.")
    return name


_POSITIVE_OPTIONS = {"timesteps": "-T/--timesteps", "limit": "--limit", "batch_size": "--batch-size"}
_POSITIVE_OPTIONS["test_limit"] = "--test-limit"
_POSITIVE_OPTIONS.update(levels="--levels", epochs="--epochs")


def _check_positive(arguments) -> None:
    """Counts and sizes must be at least 1 (checked after parsing, so the error is one line and exit 2)."""
    for name, option in _POSITIVE_OPTIONS.items():
        value = getattr(arguments, name, None)
        if value is not None and value < 1:
            raise UsageError(f"{option} must be a positive integer. Received: {option}={value}.")


def _calibration(name: str) -> str | None:
    """The ``calibrate=`` value for a ``--calibrate`` name, checked against the library's modes and pipelines."""
    if name == "none":
        return None
    from spkeras.calibration.post import resolve_modes

    try:
        resolve_modes(name)
    except ValueError as error:
        raise UsageError(f"Unknown --calibrate. Received: --calibrate={name!r}. {error}") from None
    return name


def _parse_options(items) -> dict:
    options = {}
    for item in items or []:
        name, _, value = item.partition("=")
        if not name or not value:
            raise UsageError(f"--option expects NAME=VALUE. Received: '{item}'.")
        try:
            options[name] = json.loads(value)
        except json.JSONDecodeError:
            options[name] = value  # a plain string, e.g. spike_value=threshold
    return options


# ----------------------------------------------------------------------------------------------------------
# Data and models


def _load_arrays(path, kind: str):
    """Loads inputs (and labels) from an ``.npz`` file; uint8 images are scaled to [0, 1]."""
    import numpy as np

    path = _check_data_file(path, kind)
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


def _load(path, argument: str):
    """Loads a model through spkeras.load_model, with the command line's wording of the messages."""
    from spkeras.io import _load_model

    return _load_model(path, argument=argument, safe_mode=True, custom_objects=None, command_line=True)


def _is_spiking(model) -> bool:
    from spkeras.layers import IntegrateAndFire

    return any(isinstance(layer, IntegrateAndFire) for layer in model.layers)


def _ann_accuracy(model, x, y, batch_size: int) -> float:
    """Top-1 accuracy of the (non-spiking) ANN ``model`` on ``x``, ``y``."""
    import numpy as np

    labels = np.asarray(y)
    labels = np.argmax(labels, axis=-1) if labels.ndim > 1 else labels.reshape(-1)
    if len(labels) != len(x):
        raise ValueError(f"The data has {len(x)} inputs but {len(labels)} labels.")
    predictions = np.argmax(model.predict(x, batch_size=batch_size, verbose=0), axis=-1)
    return float(np.mean(predictions == labels))


def _labels(path, y, option: str):
    if y is None:
        raise ValueError(f"'{path}' has no labels. Received: an .npz without 'y'/'y_test' in {option}.")
    return y


# ----------------------------------------------------------------------------------------------------------
# Output


def _report(result, snn, ann_accuracy: float | None) -> dict:
    """The JSON report: the result, the ANN baseline, chance level, conversion loss per step and metrics."""
    from spkeras.metrics import summarize

    classes = int(snn.outputs[0].shape[-1])
    report = {**result.to_dict(), "ann_accuracy": ann_accuracy, "chance_accuracy": 1.0 / classes}
    report["conversion_loss"] = None if ann_accuracy is None else [ann_accuracy - a for a in report["accuracy"]]
    report["metrics"] = summarize(snn, result)
    return report


def _write_json(path, report: dict) -> None:
    from spkeras.io import write_text

    write_text(path, json.dumps(report, indent=2) + "\n")
    print(f"wrote {path}")


def _write_plot(path, result, ann_accuracy: float | None, chance: float, title: str) -> None:
    from spkeras.io import atomic_output
    from spkeras.plots import plot_accuracy

    figure = plot_accuracy({"SNN": result}, ann_accuracy=ann_accuracy, chance_accuracy=chance, title=title)
    try:
        with atomic_output(path) as temporary:
            figure.savefig(temporary, dpi=120, bbox_inches="tight")
    finally:
        import matplotlib.pyplot as plt

        plt.close(figure)
    print(f"wrote {path}")


# ----------------------------------------------------------------------------------------------------------
# Commands


def _convert(arguments) -> int:
    output = _check_output(arguments.output, "-o/--output", (".keras",))
    _check_model_file(arguments.model, "MODEL")
    if arguments.calibration:
        _check_data_file(arguments.calibration, "--calibration")
    if arguments.data:
        _check_data_file(arguments.data, "--data")
    options = _parse_options(arguments.option)
    start_tensorflow()
    if arguments.method is not None:
        _check_method(arguments.method)
    calibrate = _calibration(arguments.calibrate)
    import spkeras

    model = _load(arguments.model, "MODEL")
    x = None
    if arguments.calibration:
        x, _ = _load_arrays(arguments.calibration, "--calibration")
        x = _fit_channels(x, model)
        if arguments.limit:
            x = x[: arguments.limit]
    if arguments.data:
        x_test, y_test = _load_arrays(arguments.data, "--data")
        y_test = _labels(arguments.data, y_test, "--data")
        x_test = _fit_channels(x_test, model)
        if arguments.test_limit:
            x_test, y_test = x_test[: arguments.test_limit], y_test[: arguments.test_limit]
    with _results_stay_on_stdout():
        if calibrate is not None:
            options.setdefault("calibrate", calibrate)
        snn = spkeras.convert(
            model, x, method=arguments.method, timesteps=arguments.timesteps, verbose=not arguments.quiet, **options
        )
        spkeras.save_model(snn, output)
    method = arguments.method or (
        "qcfs" if any(type(layer).__name__ == "QuantizedClipFloorShift" for layer in model.layers) else "ecc"
    )
    print(f"converted {arguments.model} with method={method} -> {output}")
    if arguments.data:
        with _results_stay_on_stdout():
            ann_accuracy = _ann_accuracy(model, x_test, y_test, arguments.batch_size)
            result = spkeras.evaluate(
                snn,
                x_test,
                y_test,
                timesteps=arguments.timesteps,
                batch_size=arguments.batch_size,
                verbose=not arguments.quiet,
            )
        print(f"{arguments.data}: {result.num_images} images")
        print(result.table(reference_accuracy=ann_accuracy))
    return EXIT_OK


def _finetune(arguments) -> int:
    output = _check_output(arguments.output, "-o/--output", (".keras",))
    _check_model_file(arguments.model, "MODEL")
    _check_data_file(arguments.data, "--data")
    start_tensorflow()
    import spkeras

    model = _load(arguments.model, "MODEL")
    x, y = _load_arrays(arguments.data, "--data")
    y = _labels(arguments.data, y, "--data")
    x = _fit_channels(x, model)
    if arguments.limit:
        x, y = x[: arguments.limit], y[: arguments.limit]
    with _results_stay_on_stdout():
        tuned = spkeras.finetune(
            model,
            x,
            y,
            levels=arguments.levels,
            epochs=arguments.epochs,
            batch_size=arguments.batch_size,
            learning_rate=arguments.learning_rate,
            augment=arguments.augment,
            verbose=not arguments.quiet,
        )
        spkeras.save_model(tuned, output)
    accuracy = tuned.finetune_history.get("accuracy", [float("nan")])[-1]
    print(
        f"fine-tuned {arguments.model} with QCFS (L={arguments.levels}, {arguments.epochs} epochs, "
        f"{tuned.finetune_seconds:.0f} s, training accuracy {accuracy:.4f}) -> {output}"
    )
    print(f"next: spkeras convert {output} -T {arguments.levels} -o snn.keras")
    return EXIT_OK


def _evaluate(arguments) -> int:
    json_path = _check_output(arguments.json, "--json", (".json",)) if arguments.json else None
    plot_path = _check_output(arguments.plot, "--plot", PLOT_SUFFIXES) if arguments.plot else None
    if plot_path:
        _check_matplotlib()
    _check_model_file(arguments.model, "MODEL")
    if arguments.ann:
        _check_model_file(arguments.ann, "--ann")
    _check_data_file(arguments.data, "--data")
    start_tensorflow()
    import spkeras

    snn = _load(arguments.model, "MODEL")
    if not _is_spiking(snn):
        raise UsageError(
            f"MODEL is not a converted spiking model (it has no spiking layers): convert it first with "
            f"'spkeras convert', or pass it as --ann. Received: MODEL='{arguments.model}'."
        )
    ann = _load(arguments.ann, "--ann") if arguments.ann else None
    if ann is not None and _is_spiking(ann):
        raise UsageError(f"--ann must be the source ANN, not a converted model. Received: --ann='{arguments.ann}'.")
    x, y = _load_arrays(arguments.data, "--data")
    y = _labels(arguments.data, y, "--data")
    x = _fit_channels(x, snn)
    if arguments.limit:
        x, y = x[: arguments.limit], y[: arguments.limit]
    with _results_stay_on_stdout():
        ann_accuracy = None if ann is None else _ann_accuracy(ann, x, y, arguments.batch_size)
        result = spkeras.evaluate(
            snn,
            x,
            y,
            timesteps=arguments.timesteps,
            encoding=arguments.encoding,
            batch_size=arguments.batch_size,
            verbose=not arguments.quiet,
        )
    report = {"model": str(arguments.model), "ann_model": arguments.ann, "data": str(arguments.data)}
    report.update(_report(result, snn, ann_accuracy))
    print(result.table(reference_accuracy=ann_accuracy))
    print(report["metrics"].table())
    if json_path:
        _write_json(json_path, report)
    if plot_path:
        title = f"{pathlib.Path(arguments.model).name}: {result.num_images} images, {result.encoding} input"
        _write_plot(plot_path, result, ann_accuracy, report["chance_accuracy"], title)
    return EXIT_OK


def _info(arguments) -> int:
    _check_model_file(arguments.model, "MODEL")
    start_tensorflow()
    from spkeras.convert import layer_report

    model = _load(arguments.model, "MODEL")
    report = layer_report(model, max_pooling=arguments.max_pooling)
    width = max(len(name) for name, _, _ in report) if report else 10
    print(f"model '{model.name}': input {tuple(model.inputs[0].shape[1:])}, {len(report)} layers")
    for name, kind, reason in report:
        status = "converts" if reason is None else f"REFUSED: {reason}"
        print(f"  {name:<{width}}  {kind:<24} {status}")
    refused = sum(reason is not None for _, _, reason in report)
    print("all layers convert" if not refused else f"{refused} layer(s) cannot be converted")
    return EXIT_OK if not refused else EXIT_REFUSED


def _export_nir(arguments) -> int:
    output = _check_output(arguments.output, "-o/--output", (".nir",))
    _check_model_file(arguments.model, "MODEL")
    try:
        importlib.import_module("nir")
    except ImportError as error:
        raise UsageError(
            f'export-nir needs the optional package nir, which is not installed: pip install "spkeras[nir]" '
            f"(or pip install nir). ({error})"
        ) from None
    start_tensorflow()
    import spkeras

    snn = _load(arguments.model, "MODEL")
    if not _is_spiking(snn):
        raise UsageError(
            f"MODEL is not a converted spiking model (it has no spiking layers): convert it first with "
            f"'spkeras convert'. Received: MODEL='{arguments.model}'."
        )
    graph = spkeras.export_nir(snn, output, readout=arguments.readout)
    print(f"wrote {output}: {len(graph.nodes)} NIR nodes, {len(graph.edges)} edges, readout={arguments.readout}")
    return EXIT_OK


def dip_note(result, tolerance: float = 0.01, hint: str = "") -> str | None:
    """One line explaining a dip of the accuracy between two reported steps, or ``None`` when it only rises.

    Args:
        result: A :class:`~spkeras.simulate.SimulationResult`.
        tolerance: Drops smaller than this (e.g. one image in a hundred) are not called a dip.
        hint: Added in parentheses at the end, e.g. what removes the dip.

    Examples:
        >>> import numpy as np
        >>> from spkeras.simulate import SimulationResult
        >>> result = SimulationResult(4, np.array([0.2, 0.9, 0.8, 0.8]), ["relu"], np.ones((4, 1)), 10, 1.0)
        >>> print(dip_note(result))
        note: the dip from t = 2 to t = 4 is low-T quantisation of max-normalised ReLU rates; it fades as t grows.
    """
    steps = result.report_steps()
    best_step = steps[0]
    for step in steps[1:]:
        if result.accuracy_at(step) < result.accuracy_at(best_step) - tolerance:
            return (
                f"note: the dip from t = {best_step} to t = {step} is low-T quantisation of max-normalised ReLU "
                f"rates; it fades as t grows{f' ({hint})' if hint else ''}."
            )
        if result.accuracy_at(step) > result.accuracy_at(best_step):
            best_step = step
    return None


def _demo(arguments) -> int:
    start_tensorflow()
    if arguments.method is not None:
        _check_method(arguments.method)
    calibrate = _calibration(arguments.calibrate)
    from spkeras.demo import run_demo

    with _results_stay_on_stdout():
        report = run_demo(
            method=arguments.method,
            timesteps=arguments.timesteps,
            verbose=not arguments.quiet,
            calibrate=calibrate,
        )
    result = report["result"]
    print(
        f"spkeras demo: bundled MNIST CNN, {result.num_images} test images, method={report['method']}, "
        f"calibrate={arguments.calibrate}"
    )
    print(result.table(reference_accuracy=report["ann_accuracy"]))
    note = dip_note(result, hint="--calibrate advanced removes it" if arguments.calibrate == "none" else "")
    if note:
        print(note)
    print(
        f"conversion {report['conversion_time_s']:.1f} s, simulation {report['simulation_time_s']:.1f} s "
        f"({result.timesteps} steps)"
    )
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``spkeras`` command (imports neither TensorFlow nor Keras).

    Examples:
        >>> parser = build_parser()
        >>> parser.parse_args(["demo", "-T", "16"]).timesteps
        16
    """
    from spkeras import __version__

    methods = ", ".join(METHOD_NAMES)
    calibrations = ", ".join(CALIBRATION_NAMES)
    parser = argparse.ArgumentParser(
        prog="spkeras",
        description="Convert trained Keras CNNs into spiking neural networks and simulate them.",
        epilog="example:\n  spkeras convert cnn.h5 --calibration data.npz --method ecc -T 64 -o snn.keras\n\n"
        + EXIT_STATUS_TEXT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"spkeras {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens (INFO level)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    raw = argparse.RawDescriptionHelpFormatter

    convert = commands.add_parser(
        "convert",
        help="convert a .h5/.keras CNN into a spiking .keras model",
        epilog=EXIT_STATUS_TEXT,
        formatter_class=raw,
    )
    convert.add_argument("model", metavar="MODEL", help="source model (.h5, .hdf5 or .keras)")
    convert.add_argument(
        "--calibration", help=".npz with calibration inputs under 'x' (or x_train); optional for QCFS models"
    )
    convert.add_argument(
        "--method", metavar="NAME", help=f"conversion method: {methods} (ecc; qcfs for models from finetune)"
    )
    convert.add_argument("-T", "--timesteps", type=int, default=64, help="time steps the SNN is meant for (64)")
    convert.add_argument("-o", "--output", required=True, help="output .keras file (written atomically)")
    convert.add_argument("--limit", type=int, help="use only the first N calibration samples")
    convert.add_argument(
        "--option", action="append", metavar="NAME=VALUE", help="method option, e.g. --option percentile=99.99"
    )
    convert.add_argument(
        "--calibrate",
        default="none",
        metavar="NAME",
        help=f"post-conversion calibration for T: {calibrations} (light = threshold + bias, advanced = threshold + "
        "potential) (none)",
    )
    convert.add_argument(
        "--data", help=".npz with test inputs and labels: also measure the ANN and simulate the SNN for T steps"
    )
    convert.add_argument("--test-limit", type=int, help="use only the first N samples of --data")
    convert.add_argument("--batch-size", type=int, default=100, help="images per batch for --data (100)")
    convert.add_argument("--quiet", action="store_true", help="no progress bars")
    convert.set_defaults(handler=_convert)

    finetune = commands.add_parser(
        "finetune",
        help="fine-tune a CNN with QCFS activations for ultra-low latency (T <= 4)",
        epilog=EXIT_STATUS_TEXT,
        formatter_class=raw,
    )
    finetune.add_argument("model", metavar="MODEL", help="trained model (.h5, .hdf5 or .keras)")
    finetune.add_argument("--data", required=True, help=".npz with training inputs 'x' and labels 'y'")
    finetune.add_argument("--levels", type=int, default=4, help="quantisation levels L = the T to convert for (4)")
    finetune.add_argument("--epochs", type=int, default=10, help="passes over the data (10)")
    finetune.add_argument("--batch-size", type=int, default=64, help="training batch size (64)")
    finetune.add_argument("--learning-rate", type=float, default=1e-4, help="initial Adam learning rate (1e-4)")
    finetune.add_argument("--augment", action="store_true", help="random flip + translation (natural images)")
    finetune.add_argument("--limit", type=int, help="use only the first N samples")
    finetune.add_argument("-o", "--output", required=True, help="output .keras file (written atomically)")
    finetune.add_argument("--quiet", action="store_true", help="no progress bar")
    finetune.set_defaults(handler=_finetune)

    evaluate = commands.add_parser(
        "evaluate",
        help="simulate a converted model and report accuracy per step",
        epilog=EXIT_STATUS_TEXT,
        formatter_class=raw,
    )
    evaluate.add_argument("model", metavar="MODEL", help="converted model (.keras)")
    evaluate.add_argument("--data", required=True, help=".npz with inputs 'x'/'x_test' and labels 'y'/'y_test'")
    evaluate.add_argument("--ann", help="the source ANN (.h5/.keras): measure its accuracy on the same data")
    evaluate.add_argument("-T", "--timesteps", type=int, default=64, help="number of time steps (64)")
    evaluate.add_argument("--encoding", default="analog", choices=ENCODING_NAMES, help="input encoding (analog)")
    evaluate.add_argument("--batch-size", type=int, default=100, help="images simulated together (100)")
    evaluate.add_argument("--limit", type=int, help="evaluate only the first N samples")
    evaluate.add_argument("--json", help="write the result, ANN baseline and metrics to this .json file")
    evaluate.add_argument(
        "--plot",
        help="save an accuracy-vs-time-steps plot here (.png, .pdf or .svg, by extension; needs matplotlib)",
    )
    evaluate.add_argument("--quiet", action="store_true", help="no progress bars")
    evaluate.set_defaults(handler=_evaluate)

    info = commands.add_parser(
        "info",
        help="list a model's layers and whether each converts (and why not)",
        epilog="exit status:\n  0  every layer converts\n  1  some layer cannot be converted\n  2  bad input\n",
        formatter_class=raw,
    )
    info.add_argument("model", metavar="MODEL", help="model file (.h5, .hdf5 or .keras)")
    info.add_argument("--max-pooling", default="average", choices=["average", "error"], help="MaxPooling2D policy")
    info.set_defaults(handler=_info)

    export = commands.add_parser(
        "export-nir",
        help="write a converted spiking model as a NIR graph (.nir; needs spkeras[nir])",
        epilog=EXIT_STATUS_TEXT,
        formatter_class=raw,
    )
    export.add_argument("model", metavar="MODEL", help="converted model (.keras)")
    export.add_argument("-o", "--output", required=True, help="output .nir file (written atomically)")
    export.add_argument(
        "--readout",
        default="integrator",
        choices=["integrator", "current"],
        help="integrator: the output is the readout summed over steps (argmax = prediction); current: each "
        "step's readout current (integrator)",
    )
    export.set_defaults(handler=_export_nir)

    demo = commands.add_parser(
        "demo", help="convert and simulate the bundled MNIST CNN", epilog=EXIT_STATUS_TEXT, formatter_class=raw
    )
    demo.add_argument("--method", default="ecc", metavar="NAME", help=f"conversion method: {methods} (ecc)")
    demo.add_argument("-T", "--timesteps", type=int, default=64, help="number of time steps (64)")
    demo.add_argument(
        "--calibrate",
        default="advanced",
        metavar="NAME",
        help=f"post-conversion calibration for T: {calibrations} (advanced: the best low-T curve here; none: the "
        "plain method)",
    )
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    demo.set_defaults(handler=_demo)
    return parser


def main(argv=None) -> int:
    """Entry point of the ``spkeras`` command; returns the exit status.

    Examples:
        >>> main(["info", "no-such-model.h5"])
        2
    """
    parser = build_parser()
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if arguments.verbose else logging.WARNING, format="%(message)s")
    try:
        _check_positive(arguments)
        return arguments.handler(arguments)
    except (ValueError, TypeError, OSError) as error:
        message = " ".join(str(error).split())
        print(f"spkeras: error: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("spkeras: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
