"""Checks of the command line's arguments and files, before any work, in the command line's words.

Every message names the option the user typed (``--calibration FILE.npz``, ``MODEL``), never a Python argument.
"""

from __future__ import annotations

import importlib
import json
import os
import pathlib

from spkeras.errors import UsageError


def calibration_names() -> tuple[str, ...]:
    """The ``--calibrate`` names the library accepts: ``"none"``, every calibration mode, every pipeline.

    The one place the command line asks the library for them (imports TensorFlow).

    Examples:
        >>> names = calibration_names()
        >>> names[0], "per_step" in names, "advanced" in names
        ('none', True, True)
    """
    from spkeras.calibration.modes import available_modes, available_pipelines

    return ("none", *available_modes(), *sorted(available_pipelines()))


def check_calibration(name: str) -> str | None:
    """The ``calibrate=`` value for a ``--calibrate`` name (``None`` for ``none``), checked against the library.

    Examples:
        >>> check_calibration("light"), check_calibration("none")
        ('light', None)
        >>> check_calibration("None")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        spkeras.errors.UsageError: Unknown --calibrate name. Received: --calibrate None. Use one of: none, ...
    """
    names = calibration_names()
    if name not in names:
        case = " (names are lower case)" if name.lower() in names else ""
        choices = ", ".join(names)
        raise UsageError(f"Unknown --calibrate name. Received: --calibrate {name}. Use one of: {choices}{case}.")
    return None if name == "none" else name


def check_method(name: str) -> str:
    """A ``--method`` name, checked against the registered conversion methods.

    Examples:
        >>> check_method("robust")
        'robust'
    """
    from spkeras.methods import available_methods

    if name not in available_methods():
        raise UsageError(f"Unknown --method. Received: --method {name}. Use one of: {', '.join(available_methods())}.")
    return name


def check_output(path, option: str, suffixes: tuple[str, ...], overwrite: bool = True) -> pathlib.Path:
    """An output path: supported extension, existing writable folder, not a folder itself (nor an existing file
    when ``overwrite`` is false, i.e. ``--no-overwrite``).

    Examples:
        >>> check_output("snn.h5", "-o/--output", (".keras",))
        Traceback (most recent call last):
        ...
        spkeras.errors.UsageError: -o/--output must end in .keras. Received: -o/--output='snn.h5'.
    """
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
    """An existing ``.npz`` file given as ``option``.

    Examples:
        >>> check_data_file("missing.npz", "--data")
        Traceback (most recent call last):
        ...
        spkeras.errors.UsageError: Data file not found. Received: --data='missing.npz'.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "not found"
        raise UsageError(f"Data file {what}. Received: {option}='{path}'.")
    if path.suffix.lower() != ".npz":
        raise UsageError(f"{option} must be a NumPy .npz file (numpy.savez). Received: {option}='{path}'.")
    return path


def check_model_file(path, argument: str) -> pathlib.Path:
    """A complete model file (``spkeras.io.check_model_file``), its problems reported as usage errors.

    Examples:
        >>> import spkeras
        >>> check_model_file(spkeras.demo.DEMO_MODEL_PATH, "MODEL").name
        'demo_mnist_cnn.h5'
    """
    from spkeras.io import check_model_file as check

    try:
        return check(path, argument)
    except ValueError as error:
        raise UsageError(str(error)) from error


def check_matplotlib() -> None:
    """Refuses ``--plot`` before any work when matplotlib is not installed.

    Examples:
        >>> check_matplotlib()  # installed: nothing happens
    """
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
    """Counts and sizes must be at least 1 (checked after parsing, so the error is one line and exit 2).

    Examples:
        >>> import argparse
        >>> check_positive(argparse.Namespace(timesteps=0))
        Traceback (most recent call last):
        ...
        spkeras.errors.UsageError: -T/--timesteps must be a positive integer. Received: -T/--timesteps=0.
    """
    for name, option in POSITIVE_OPTIONS.items():
        value = getattr(arguments, name, None)
        if value is not None and value < 1:
            raise UsageError(f"{option} must be a positive integer. Received: {option}={value}.")


def parse_options(items) -> dict:
    """The ``--option NAME=VALUE`` items as keyword arguments: JSON values where valid JSON, else strings.

    Examples:
        >>> parse_options(["percentile=99.9", "spike_value=threshold"])
        {'percentile': 99.9, 'spike_value': 'threshold'}
    """
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
