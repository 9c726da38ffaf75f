"""Loading source models safely and saving converted ones atomically."""

from __future__ import annotations

import logging
import os
import pathlib
import tempfile

import keras

logger = logging.getLogger(__name__)

MODEL_SUFFIXES = (".h5", ".hdf5", ".keras")


def load_model(path, safe_mode: bool = True, custom_objects: dict | None = None) -> keras.Model:
    """Loads a Keras model from a Keras-2 era ``.h5`` (legacy HDF5) or a Keras 3 ``.keras`` file.

    The file is only read; it is never modified. The model is loaded without its training configuration
    (``compile=False``): conversion only needs the architecture and the weights.

    Args:
        path: Path of a ``.h5``/``.hdf5`` or ``.keras`` file.
        safe_mode: Refuse to deserialise arbitrary code (e.g. ``Lambda`` layers) in ``.keras`` files.
            Keep ``True`` for files you did not write yourself.
        custom_objects: Custom layers or functions the file refers to.

    Returns:
        The ``keras.Model``.

    Raises:
        ValueError: If the file does not exist, has an unknown extension, or is not a readable Keras model.

    Examples:
        >>> import spkeras
        >>> model = spkeras.load_model(spkeras.demo.DEMO_MODEL_PATH)
        >>> model.outputs[0].shape
        (None, 10)
    """
    if isinstance(path, keras.Model):
        return path
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"`path` must be a file path or a keras.Model. Received: {type(path).__name__}.")
    path = pathlib.Path(path)
    if not path.is_file():
        raise ValueError(f"Model file not found. Received: path='{path}'. Check the path (and the working directory).")
    if path.suffix.lower() not in MODEL_SUFFIXES:
        raise ValueError(
            f"Unknown model file type '{path.suffix}'. Received: path='{path}'. "
            f"Expected one of {MODEL_SUFFIXES} (save with model.save('model.keras'))."
        )
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=safe_mode, custom_objects=custom_objects)
    except Exception as error:  # Keras raises many types for unreadable files; report them in one way.
        raise ValueError(
            f"Could not load a Keras model from '{path}': {type(error).__name__}: {error}. "
            "Check that the file is a complete Keras .h5/.keras model (not weights only) and that custom "
            "layers are passed in `custom_objects`."
        ) from error
    if not isinstance(model, keras.Model):
        raise ValueError(f"'{path}' does not contain a Keras model. Received: {type(model).__name__}.")
    logger.info("Loaded model '%s' (%d layers) from %s.", model.name, len(model.layers), path)
    return model


def save_model(model: keras.Model, path) -> pathlib.Path:
    """Saves ``model`` to a ``.keras`` file atomically: a failure never leaves a half-written file.

    Args:
        model: The model to save (e.g. a converted spiking model).
        path: Destination ending in ``.keras``.

    Returns:
        The destination path.

    Examples:
        >>> # spkeras.save_model(snn, "snn.keras")
    """
    path = pathlib.Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"Converted models are saved as .keras files. Received: path='{path}'.")
    if not path.parent.is_dir():
        raise ValueError(f"The folder of the output file does not exist. Received: path='{path}'.")
    handle, temporary = tempfile.mkstemp(suffix=".keras", prefix=f".{path.stem}.", dir=path.parent)
    os.close(handle)
    try:
        model.save(temporary)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    logger.info("Saved '%s' to %s.", model.name, path)
    return path
