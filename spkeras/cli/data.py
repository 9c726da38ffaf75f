"""Data for the command line: inputs and labels from ``.npz`` files, checked for the model, named by option."""

from __future__ import annotations

from spkeras.cli.support import check_data_file
from spkeras.errors import UsageError


def load_arrays(path, option: str):
    """Inputs, labels and their keys from an ``.npz`` file; uint8 images are scaled to [0, 1].

    Examples:
        >>> import pathlib, tempfile, numpy as np
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "test.npz"
        >>> np.savez(path, x_test=np.full((2, 3), 255, "uint8"), y_test=[0, 1])
        >>> x, y, x_key, y_key = load_arrays(path, "--data")
        >>> x.max(), y.tolist(), x_key, y_key
        (np.float32(1.0), [0, 1], 'x_test', 'y_test')
    """
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

    Examples:
        >>> import keras, numpy as np
        >>> model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten()])
        >>> fit_channels(np.zeros((5, 28, 28)), model).shape
        (5, 28, 28, 1)
    """
    expected = tuple(model.inputs[0].shape[1:])
    if x.ndim == len(expected) + int(events) and expected[-1] == 1:
        return x[..., None]
    return x


def model_inputs(path, option: str, model, limit: int | None = None):
    """The inputs of an ``.npz`` for ``model``, checked (shape, dtype, finite) with the file named in messages.

    Examples:
        >>> import pathlib, tempfile, keras, numpy as np
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "calibration.npz"
        >>> np.savez(path, x=np.zeros((4, 3), "float32"))
        >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        >>> model_inputs(path, "--calibration", model)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        spkeras.errors.UsageError: --calibration '...calibration.npz': `x` has sample shape (3,) but the model ...
    """
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

    Examples:
        >>> import pathlib, tempfile, keras, numpy as np
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "test.npz"
        >>> np.savez(path, x=np.zeros((3, 2), "float32"), y=[0, 1, 1])
        >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
        >>> x, y = labelled_data(path, "--data", model, limit=2)
        >>> x.shape, y.tolist()
        ((2, 2), [0, 1])
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
