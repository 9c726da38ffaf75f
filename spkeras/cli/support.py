"""Checks and loading for the command line: arguments, files, data and models, in the command line's words.

Every message names the option the user typed (``--calibration FILE.npz``, ``MODEL``), never a Python argument.
"""

from __future__ import annotations

import importlib
import json
import os
import pathlib


class UsageError(ValueError):
    """A problem with the command line or its files, found before any work starts (one line, exit status 2)."""


def calibration_names() -> tuple[str, ...]:
    """The ``--calibrate`` names the library accepts: ``"none"``, every calibration mode, every pipeline.

    The one place the command line asks the library for them (imports TensorFlow).

    Examples:
        >>> names = calibration_names()
        >>> names[0], "per_step" in names, "advanced" in names
        ('none', True, True)
    """
    from spkeras.calibration.post import MODES, PIPELINES

    return ("none", *MODES, *sorted(PIPELINES))


def check_calibration(name: str) -> str | None:
    """The ``calibrate=`` value for a ``--calibrate`` name (``None`` for ``none``), checked against the library.

    Examples:
        >>> check_calibration("light"), check_calibration("none")
        ('light', None)
        >>> check_calibration("None")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        spkeras.cli.support.UsageError: Unknown --calibrate name. Received: --calibrate None. Use one of: none, ...
    """
    names = calibration_names()
    if name not in names:
        case = " (names are lower case)" if name.lower() in names else ""
        choices = ", ".join(names)
        raise UsageError(f"Unknown --calibrate name. Received: --calibrate {name}. Use one of: {choices}{case}.")
    return None if name == "none" else name


def check_method(name: str) -> str:
    from spkeras.methods import available_methods

    if name not in available_methods():
        raise UsageError(f"Unknown --method. Received: --method {name}. Use one of: {', '.join(available_methods())}.")
    return name


def check_output(path, option: str, suffixes: tuple[str, ...], overwrite: bool = True) -> pathlib.Path:
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


def check_data_file(path, option: str) -> pathlib.Path:
    path = pathlib.Path(path)
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "not found"
        raise UsageError(f"Data file {what}. Received: {option}='{path}'.")
    if path.suffix.lower() != ".npz":
        raise UsageError(f"{option} must be a NumPy .npz file (numpy.savez). Received: {option}='{path}'.")
    return path


def check_model_file(path, argument: str) -> pathlib.Path:
    from spkeras.io import check_model_file as check

    try:
        return check(path, argument)
    except ValueError as error:
        raise UsageError(str(error)) from error


def check_matplotlib() -> None:
    try:
        importlib.import_module("matplotlib")
    except ImportError as error:
        raise UsageError(
            "--plot needs matplotlib, which is not installed: pip install 'spkeras[plots]' (or pip install "
            f"matplotlib), or leave out --plot. ({error})"
        ) from None


POSITIVE_OPTIONS = {"timesteps": "-T/--timesteps", "limit": "--limit", "batch_size": "--batch-size"}
POSITIVE_OPTIONS.update(test_limit="--test-limit", levels="--levels", epochs="--epochs")


def check_positive(arguments) -> None:
    """Counts and sizes must be at least 1 (checked after parsing, so the error is one line and exit 2)."""
    for name, option in POSITIVE_OPTIONS.items():
        value = getattr(arguments, name, None)
        if value is not None and value < 1:
            raise UsageError(f"{option} must be a positive integer. Received: {option}={value}.")


def parse_options(items) -> dict:
    options = {}
    for item in items or []:
        name, _, value = item.partition("=")
        if not name or not value:
            raise UsageError(f"--option expects NAME=VALUE. Received: --option '{item}'.")
        try:
            options[name] = json.loads(value)
        except json.JSONDecodeError:
            options[name] = value  # a plain string, e.g. spike_value=threshold
    return options


# ----------------------------------------------------------------------------------------------------------
# Data


def load_arrays(path, option: str):
    """Inputs, labels and their keys from an ``.npz`` file; uint8 images are scaled to [0, 1]."""
    import numpy as np

    path = check_data_file(path, option)
    try:
        data = np.load(path)
    except Exception as error:
        message = f"Could not read '{path}' as a NumPy .npz file: {error}. Received: {option}='{path}'."
        raise UsageError(message) from error
    keys = list(data.keys())
    x_key = next((k for k in ("x", "x_test", "x_calibration", "x_train") if k in keys), None)
    if x_key is None:
        raise UsageError(
            f"'{path}' has no input array. Received: {option}='{path}' with keys {keys}. Store inputs under 'x' (or "
            "'x_test', 'x_calibration', 'x_train') and labels under 'y' (or the matching 'y_...')."
        )
    x = data[x_key]
    if x.ndim == 0:
        raise UsageError(
            f"'{path}' holds a single number under '{x_key}', not an array of samples. Received: {option}='{path}' "
            f"with {x_key}.shape=(). Store the inputs as an array of shape (N,) + input_shape."
        )
    if x.dtype == np.uint8:
        x = x.astype("float32") / 255.0
    elif x.dtype.kind in "iub":
        raise UsageError(
            f"'{path}' holds {x.dtype} inputs under '{x_key}'. Received: {option}='{path}'. Store float inputs scaled "
            "as for the ANN (uint8 images are divided by 255 automatically)."
        )
    y_key = "y" + x_key[1:]
    return x, (data[y_key] if y_key in keys else None), x_key, y_key


def fit_channels(x, model, events: bool = False):
    """Adds a trailing channel axis when the model expects one and the data lacks it (e.g. MNIST arrays).

    With ``events``, samples are sequences ``(bins,) + input shape``: one more axis is expected.
    """
    expected = tuple(model.inputs[0].shape[1:])
    if x.ndim == len(expected) + int(events) and expected[-1] == 1:
        return x[..., None]
    return x


def model_inputs(path, option: str, model, limit: int | None = None):
    """The inputs of an ``.npz`` for ``model``, checked (shape, dtype, finite) with the file named in messages."""
    from spkeras import validation

    x, y, x_key, y_key = load_arrays(path, option)
    x = fit_channels(x, model)
    if limit:
        x, y = x[:limit], (None if y is None else y[:limit])
    try:
        validation.check_inputs(x, tuple(model.inputs[0].shape[1:]), x_key)
    except (ValueError, TypeError) as error:
        raise UsageError(f"{option} '{path}': {error}") from None
    return x, y, x_key, y_key


def labelled_data(path, option: str, model, limit: int | None, events: bool = False):
    """Inputs and labels of an ``.npz`` for ``model`` (channel axis added if needed), the first ``limit`` only.

    With ``events``, the inputs are event sequences ``(N, bins) + input shape`` (checked by the simulator).
    """
    from spkeras import validation

    if events:
        x, y, x_key, y_key = load_arrays(path, option)
        x = fit_channels(x, model, events)
        if limit:
            x, y = x[:limit], (None if y is None else y[:limit])
    else:
        x, y, x_key, y_key = model_inputs(path, option, model, limit)
    if y is None:
        raise UsageError(
            f"'{path}' has no labels. Received: {option}='{path}' with inputs under '{x_key}' but no '{y_key}'."
        )
    try:
        y = validation.check_labels(y, len(x), int(model.outputs[0].shape[-1]), y_key, x_key)
    except (ValueError, TypeError) as error:
        raise UsageError(f"{option} '{path}': {error}") from None
    return x, y


# ----------------------------------------------------------------------------------------------------------
# Models


def load(path, argument: str, unsafe: bool = False):
    """Loads a model through spkeras.load_model, with the command line's wording of the messages.

    A file that stores Python code (a ``Lambda`` layer) is refused before Keras reads it, unless ``unsafe``
    (``--unsafe``: ``safe_mode=False``, for files the user trusts).
    """
    from spkeras.cli.stored import code_layers, stored_config
    from spkeras.io import _load_model

    if not unsafe:
        check_model_file(path, argument)
        code = code_layers(stored_config(path))
        if code:
            names = ", ".join(f"'{name}'" for name, _ in code)
            raise UsageError(
                f"{argument} has a Lambda layer ({names}): Python code stored in the file, which would run on "
                "loading, so it is not loaded (safe mode). If you trust the file, add --unsafe; a Lambda layer "
                f"cannot be converted, 'spkeras info' lists the layers that can. Received: {argument}='{path}'."
            )
    return _load_model(path, argument=argument, safe_mode=not unsafe, custom_objects=None, command_line=True)


def is_spiking(model) -> bool:
    from spkeras.layers import IntegrateAndFire

    return any(isinstance(layer, IntegrateAndFire) for layer in model.layers)


def default_method(model) -> str:
    """The method ``spkeras.convert`` picks for ``model`` when none is given."""
    from spkeras.conversion.pipeline import default_method as library_default

    return library_default(model)


def has_qcfs(model) -> bool:
    """Whether ``model`` was prepared for QCFS conversion (``spkeras finetune``): it has QCFS activations."""
    return default_method(model) == "qcfs"
