"""Checks of user input shared by the converter and the simulator; each error says what was received."""

from __future__ import annotations

import math
import numbers

import numpy as np
import tensorflow as tf


def check_number(
    name: str,
    value,
    *,
    minimum: float | None = None,
    strictly: bool = False,
    maximum: float | None = None,
    below: bool = False,
    integer: bool = False,
    owner: str | None = None,
) -> float | int:
    """Validates one numeric argument and returns it as a float (or an int with ``integer=True``).

    Booleans, strings, NaN and infinities are refused. The message names the argument, what was received and
    the allowed range.

    Args:
        name: The argument's name as the caller knows it.
        value: The value received.
        minimum: Lower bound (inclusive unless ``strictly``).
        strictly: Whether ``minimum`` itself is refused.
        maximum: Upper bound (inclusive unless ``below``).
        below: Whether ``maximum`` itself is refused.
        integer: Require an integer.
        owner: Prefix naming who takes the argument (e.g. ``"Method 'ecc'"``).

    Examples:
        >>> check_number("amp_factor", 100, minimum=0, strictly=True)
        100.0
        >>> check_number("signed_bit", 1.5, integer=True)
        Traceback (most recent call last):
        ...
        ValueError: `signed_bit` must be an integer. Received: signed_bit=1.5.
    """
    kind = numbers.Integral if integer else numbers.Real
    valid = isinstance(value, kind) and not isinstance(value, (bool, np.bool_))
    if valid:
        try:
            valid = math.isfinite(value)
        except OverflowError:  # an int beyond the float range
            valid = False
    if valid and minimum is not None:
        valid = value > minimum if strictly else value >= minimum
    if valid and maximum is not None:
        valid = value < maximum if below else value <= maximum
    if not valid:
        if not integer and minimum == 0 and strictly and maximum is None:
            requirement = "a positive number"
        else:
            requirement = "an integer" if integer else "a finite number"
            if minimum is not None:
                requirement += f" {'>' if strictly else '>='} {minimum}"
            if maximum is not None:
                requirement += f" {'and ' if minimum is not None else ''}{'<' if below else '<='} {maximum}"
        prefix = f"{owner}: " if owner else ""
        raise ValueError(f"{prefix}`{name}` must be {requirement}. Received: {name}={value!r}.")
    return int(value) if integer else float(value)


def check_timesteps(timesteps, name: str = "timesteps") -> int:
    """Returns ``timesteps`` as an int, or raises ``ValueError`` unless it is a positive integer.

    Examples:
        >>> check_timesteps(64)
        64
    """
    if isinstance(timesteps, bool) or not isinstance(timesteps, numbers.Integral) or timesteps <= 0:
        raise ValueError(f"`{name}` must be a positive integer number of time steps. Received: {name}={timesteps!r}.")
    return int(timesteps)


def check_batch_size(batch_size, name: str = "batch_size") -> int:
    """Returns ``batch_size`` as an int, or raises ``ValueError`` unless it is a positive integer.

    Examples:
        >>> check_batch_size(0)
        Traceback (most recent call last):
        ...
        ValueError: `batch_size` must be a positive integer. Received: batch_size=0.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size <= 0:
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={batch_size!r}.")
    return int(batch_size)


def check_percentile(value, owner: str | None = None, name: str = "percentile") -> float:
    """Validates a percentile in (0, 100] and returns it as a float.

    Examples:
        >>> check_percentile(99.9)
        99.9
    """
    value = check_number(name, value, minimum=0, strictly=True, owner=owner)
    if value > 100:
        prefix = f"{owner}: " if owner else ""
        raise ValueError(f"{prefix}`{name}` must be in (0, 100]. Received: {name}={value!r}.")
    return value


def check_seed(seed, name: str = "seed") -> int:
    """Validates a random seed: an integer in [0, 2**31).

    Examples:
        >>> check_seed(7)
        7
    """
    return check_number(name, seed, minimum=0, maximum=2**31, below=True, integer=True)


def check_choice(name: str, value, choices: tuple) -> str:
    """Validates that ``value`` is one of ``choices``.

    Examples:
        >>> check_choice("max_pooling", "spiking", ("average", "error"))
        Traceback (most recent call last):
        ...
        ValueError: `max_pooling` must be one of ('average', 'error'). Received: max_pooling='spiking'.
    """
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"`{name}` must be one of {tuple(choices)}. Received: {name}={value!r}.")
    return value


def check_inputs(data, input_shape: tuple, argument: str):
    """Validates model inputs (a NumPy array or a ``tf.data.Dataset``) against the model input shape.

    Arrays must be floating point, finite, non-empty and shaped ``(N,) + input_shape``. Datasets are checked
    by their element spec only (values are checked while streaming).

    Returns:
        The data (a NumPy array is returned as is, without copying).
    """
    expected = tuple(input_shape)
    if isinstance(data, tf.data.Dataset):
        spec = data.element_spec
        spec = spec[0] if isinstance(spec, (tuple, list)) else spec
        if not isinstance(spec, tf.TensorSpec):
            raise TypeError(
                f"`{argument}` dataset elements must be batches of inputs (or (inputs, labels) tuples). Received: "
                f"element_spec={data.element_spec}. Map the dataset to tensors, e.g. dataset.map(lambda d: d['image'])."
            )
        if spec.shape.rank is None:
            raise ValueError(
                f"`{argument}` dataset elements have an unknown shape. Received: element_spec={data.element_spec}. "
                "Give the dataset a shape, e.g. from_generator(..., output_signature=tf.TensorSpec((None,) + shape))."
            )
        if not spec.dtype.is_floating:
            hint = " Convert it, e.g. dataset.map(lambda x: tf.cast(x, 'float32') / 255) for 8-bit images."
            raise TypeError(
                f"`{argument}` must hold floating-point values scaled as the model was trained. "
                f"Received: a dataset of dtype={spec.dtype.name}.{hint if spec.dtype.is_integer else ''}"
            )
        shape = tuple(spec.shape)
        if len(shape) != len(expected) + 1 or any(
            e is not None and s not in (None, e) for s, e in zip(shape[1:], expected)
        ):
            raise ValueError(
                f"`{argument}` dataset elements have shape {shape}; the model expects batches of shape "
                f"(batch,) + {expected}. Received: element_spec={data.element_spec}. Batch the dataset "
                "with .batch(n) and make its samples match the model input."
            )
        return data
    if not isinstance(data, np.ndarray):
        if hasattr(data, "numpy"):
            data = data.numpy()
        elif isinstance(data, (list, tuple)):
            try:
                data = np.asarray(data)
            except ValueError as error:  # ragged nesting
                raise ValueError(
                    f"`{argument}` is a list of samples with different shapes. Received: a ragged list of "
                    f"{len(data)} items ({error}). Pass one array of shape (N,) + input_shape."
                ) from error
        else:
            raise TypeError(
                f"`{argument}` must be a NumPy array or a tf.data.Dataset. Received: {type(data).__name__}."
            )
    if data.dtype.kind != "f":
        hint = " Convert it, e.g. x.astype('float32') / 255 for 8-bit images." if data.dtype.kind in "iub" else ""
        raise TypeError(
            f"`{argument}` must hold floating-point values scaled as the model was trained. "
            f"Received: dtype={data.dtype}.{hint}"
        )
    if data.ndim == 0 or data.shape[0] == 0:
        raise ValueError(f"`{argument}` is empty. Received: shape={data.shape}. Pass at least one sample.")
    shape = tuple(data.shape[1:])
    if len(shape) != len(expected) or any(e is not None and s != e for s, e in zip(shape, expected)):
        hint = ""
        if len(shape) + 1 == len(expected) and expected[-1] == 1:
            hint = f" Add the channel axis: {argument}[..., None]."
        raise ValueError(
            f"`{argument}` has sample shape {shape} but the model expects {expected}. "
            f"Received: {argument}.shape={data.shape}.{hint}"
        )
    if not np.all(np.isfinite(data)):
        bad = int(np.size(data) - np.count_nonzero(np.isfinite(data)))
        raise ValueError(
            f"`{argument}` contains {bad} NaN or infinite values. Received: an array with non-finite entries. "
            "Clean or re-normalise the data."
        )
    return data


def check_array_inputs(data, input_shape: tuple, argument: str):
    """Like :func:`check_inputs` but for functions that need labels aligned with a NumPy array."""
    if isinstance(data, tf.data.Dataset):
        raise TypeError(
            f"`{argument}` must be a NumPy array here (labels are passed separately). Received: a tf.data.Dataset. "
            "Collect it with np.concatenate([batch for batch, _ in dataset]) or pass arrays."
        )
    return check_inputs(data, input_shape, argument)


def check_labels(
    labels, count: int | None, classes: int, argument: str = "y", inputs_argument: str = "x"
) -> np.ndarray:
    """Returns integer class labels from integer labels or one-hot rows, checking their number and range.

    Args:
        labels: Integer labels ``(N,)``, ``(N, 1)`` or one-hot ``(N, classes)``.
        count: The number of inputs they must match (None: any).
        classes: Number of model outputs.
        argument: The caller's name for the labels (e.g. ``"y_test"``), used in messages.
        inputs_argument: The caller's name for the inputs.

    Examples:
        >>> check_labels(np.eye(3)[[2, 0]], 2, 3).tolist()
        [2, 0]
        >>> check_labels([0, 5], 2, 3, argument="y_test")
        Traceback (most recent call last):
        ...
        ValueError: `y_test` labels must lie in [0, 2] for a model with 3 outputs. Received: min=0, max=5.
    """
    labels = np.asarray(labels.numpy() if hasattr(labels, "numpy") else labels)
    if labels.ndim == 2 and labels.shape[1] == classes and labels.shape[1] > 1:
        one_hot = np.isin(labels, (0, 1)).all() and np.all(labels.sum(axis=1) == 1)
        if not one_hot:
            raise ValueError(
                f"`{argument}` has {classes} columns but its rows are not one-hot (soft or multi-hot labels). "
                f"Received: {argument}.shape={labels.shape} with row sums in [{labels.sum(axis=1).min():g}, "
                f"{labels.sum(axis=1).max():g}]. Pass integer labels, e.g. {argument}.argmax(axis=1) if intended."
            )
        labels = labels.argmax(axis=1)
    elif labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1:
        raise ValueError(
            f"`{argument}` must be integer class labels of shape (N,) or one-hot of shape (N, {classes}). "
            f"Received: {argument}.shape={labels.shape}."
        )
    if labels.dtype.kind == "f":
        if not np.all(np.isfinite(labels)) or not np.all(labels == np.round(labels)):
            raise ValueError(f"`{argument}` holds non-integer values. Received: float labels with fractions or NaN.")
    elif labels.dtype.kind not in "iu":
        raise TypeError(f"`{argument}` must be integer class labels. Received: dtype={labels.dtype}.")
    if count is not None and len(labels) != count:
        raise ValueError(
            f"`{inputs_argument}` has {count} samples but `{argument}` has {len(labels)}. "
            f"Received: len({argument})={len(labels)}."
        )
    if len(labels) and (labels.min() < 0 or labels.max() >= classes):
        raise ValueError(
            f"`{argument}` labels must lie in [0, {classes - 1}] for a model with {classes} outputs. "
            f"Received: min={labels.min()}, max={labels.max()}."
        )
    return labels.astype("int64")
