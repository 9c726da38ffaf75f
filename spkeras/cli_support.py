"""Shared pieces of the command line: quiet TensorFlow start-up, argument and file checks, loading, writing.

Split from :mod:`spkeras.cli` (which holds the commands and the parser); everything here is re-exported there.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import pathlib
import re
import sys
import tempfile

from spkeras.cli_constants import EXIT_BAD_INPUT, PLOT_SUFFIXES  # noqa: F401

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


def _check_output(path, option: str, suffixes: tuple[str, ...], overwrite: bool = True) -> pathlib.Path:
    """An output path: supported extension, existing writable folder, not a folder itself (nor an existing file
    when ``overwrite`` is false, i.e. ``--no-overwrite``)."""
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
    if not overwrite and (path.exists() or path.is_symlink()):
        raise UsageError(
            f"{option} already exists and --no-overwrite was given. Received: {option}='{path}'. Remove it, "
            "choose another name, or drop --no-overwrite to replace it."
        )
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
    if x.ndim == 0:
        raise ValueError(
            f"'{path}' holds a single number under '{x_key}', not an array of samples. Received: {kind}='{path}' "
            f"with {x_key}.shape=(). Store the inputs as an array of shape (N,) + input_shape."
        )
    if x.dtype == np.uint8:
        x = x.astype("float32") / 255.0
    y_key = "y" + x_key[1:]
    y = data[y_key] if y_key in keys else None
    return x, y


def _fit_channels(x, model, events: bool = False):
    """Adds a trailing channel axis when the model expects one and the data lacks it (e.g. MNIST arrays).

    With ``events``, samples are sequences ``(bins,) + input shape``: one more axis is expected.
    """
    expected = tuple(model.inputs[0].shape[1:])
    if x.ndim == len(expected) + int(events) and expected[-1] == 1:
        return x[..., None]
    return x


def _load(path, argument: str):
    """Loads a model through spkeras.load_model, with the command line's wording of the messages."""
    from spkeras.io import load_model

    return load_model(path, argument=argument, command_line=True)


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


def _labelled_data(path, option: str, model, limit: int | None, events: bool = False):
    """Inputs and labels of an ``.npz`` for ``model`` (channel axis added if needed), the first ``limit`` only.

    With ``events``, the inputs are event sequences ``(N, bins) + input shape``.
    """
    x, y = _load_arrays(path, option)
    y = _labels(path, y, option)
    x = _fit_channels(x, model, events)
    if limit:
        x, y = x[:limit], y[:limit]
    return x, y


def _report(result, snn, ann_accuracy: float | None) -> dict:
    """The JSON report: the result, the ANN baseline, chance level, conversion loss per step and metrics."""
    from spkeras.metrics import summarize

    classes = int(snn.outputs[0].shape[-1])
    report = {**result.to_dict(), "ann_accuracy": ann_accuracy, "chance_accuracy": 1.0 / classes}
    report["conversion_loss"] = None if ann_accuracy is None else [ann_accuracy - a for a in report["accuracy"]]
    report["metrics"] = summarize(snn, result)
    return report


def _write_json(path, report: dict, overwrite: bool = True) -> None:
    from spkeras.io import write_text

    write_text(path, json.dumps(report, indent=2) + "\n", overwrite=overwrite)
    print(f"wrote {path}")


def _write_plot(path, result, ann_accuracy: float | None, chance: float, title: str, overwrite: bool = True) -> None:
    from spkeras.io import atomic_output
    from spkeras.plots import plot_accuracy

    figure = plot_accuracy({"SNN": result}, ann_accuracy=ann_accuracy, chance_accuracy=chance, title=title)
    try:
        with atomic_output(path, overwrite=overwrite) as temporary:
            figure.savefig(temporary, dpi=120, bbox_inches="tight")
    finally:
        import matplotlib.pyplot as plt

        plt.close(figure)
    print(f"wrote {path}")


# ----------------------------------------------------------------------------------------------------------
# Commands
