"""Loading source models safely and saving converted ones atomically."""

from __future__ import annotations

import logging
import os
import pathlib
import warnings
from typing import TYPE_CHECKING

from spkeras.io.atomic import atomic_output
from spkeras.io.check import _describe, check_model_file
from spkeras.io.config import declared_input_shapes, read_model_config, stored_keras_version

if TYPE_CHECKING:
    import keras

logger = logging.getLogger(__name__)


def load_model(
    path,
    safe_mode: bool = True,
    custom_objects: dict | None = None,
    *,
    argument: str = "path",
    command_line: bool = False,
) -> keras.Model:
    """Loads a Keras model from a ``.keras`` file or an ``.h5`` file of any Keras 2.x or Keras 3 era.

    The file is only read; it is never modified. The model is loaded without its training configuration
    (``compile=False``): conversion only needs the architecture and the weights. Converted spiking models load
    too (their layer classes are registered first). A Keras-2-era ``.h5`` that Keras 3 cannot read (or reads
    with other inputs than the file declares) is translated from its stored config and its weights are loaded by
    layer, every shape checked (see docs/loading.md); a ``Lambda``'s code is never run from such a file.

    Args:
        path: Path of a ``.h5``/``.hdf5`` or ``.keras`` file (or a ``keras.Model``, returned as is).
        safe_mode: Refuse to deserialise arbitrary code (e.g. ``Lambda`` layers) in ``.keras`` files.
            Keep ``True`` for files you did not write yourself.
        custom_objects: Custom layers or functions the file refers to.
        argument: How the caller names the file in messages (the ``spkeras`` command passes e.g. ``"MODEL"``).
        command_line: Word the hint for a custom layer for the ``spkeras`` command (which cannot take
            ``custom_objects``) instead of for Python.

    Returns:
        The ``keras.Model``.

    Raises:
        FileNotFoundError: If the file does not exist (a :class:`spkeras.io.ModelFileNotFoundError`, which is
            also a ``ValueError``).
        ValueError: If the file has an unknown extension, is not a zip archive (``.keras``) or
            an HDF5 file (``.h5``), is truncated, holds weights only, or is not a readable Keras model. The
            message names the file.

    Examples:
        >>> import spkeras
        >>> model = spkeras.load_model(spkeras.demo.DEMO_MODEL_PATH)
        >>> model.outputs[0].shape
        (None, 10)
    """
    import keras

    import spkeras.layers  # noqa: F401  (registers spkeras's layer classes, QCFS too: converted models load)

    if isinstance(path, keras.Model):
        return path
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"`{argument}` must be a file path or a keras.Model. Received: {type(path).__name__}.")
    path = check_model_file(path, argument)
    version = stored_keras_version(path) if path.suffix.lower() != ".keras" else "3"
    try:
        with warnings.catch_warnings(record=True) as caught:  # shown only if Keras's own attempt succeeds
            warnings.simplefilter("always")
            model = keras.saving.load_model(path, compile=False, safe_mode=safe_mode, custom_objects=custom_objects)
        if not version.startswith("3"):  # Keras 3 reads a Keras 2 first layer's batch_input_shape as input_shape
            declared = declared_input_shapes(read_model_config(path))
            built = [tuple(tensor.shape) for tensor in model.inputs] if isinstance(model, keras.Model) else None
            if declared and built != declared:
                raise ValueError(f"Keras built the inputs {built}, but the file declares {declared}")
    except Exception as error:  # Keras raises many types for unreadable files; report them in one way.
        model = _translated_or_raise(path, error, argument, custom_objects or {}, command_line, version)
    else:
        for warning in caught:  # not Keras's advice about its own loader passing an input_shape to old layers
            if str(warning.message).startswith("Do not pass an `input_shape`"):
                continue
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    if not isinstance(model, keras.Model):
        raise ValueError(
            f"'{path}' does not contain a Keras model. Received: {type(model).__name__} from {argument}='{path}'."
        )
    logger.info("Loaded model '%s' (%d layers) from %s.", model.name, len(model.layers), path)
    return model


def _translated_or_raise(path, error: Exception, argument: str, custom_objects: dict, command_line: bool, version: str):
    """The model of a Keras 2.x ``.h5`` that Keras 3 could not read, translated; or the error, worded for users."""
    import keras

    text = " ".join(str(error).split())
    custom = "Could not locate" in text or "Unknown layer" in text or "Unknown object" in text
    code = "arbitrary code execution" in text  # Keras refused a Lambda in safe mode: keep its reason and opt-in
    translation = ""
    if not version.startswith("3") and not custom and not code:  # a Keras 1/2-era .h5: translate its config
        from spkeras.io.legacy import translate_model_config  # imports Keras: only when a file needs it
        from spkeras.io.legacy_weights import load_legacy_weights

        try:
            model = translate_model_config(read_model_config(path), custom_objects)
            load_legacy_weights(model, path)
        except (ValueError, OSError, KeyError, TypeError) as refusal:  # h5py's errors for a damaged group too
            translation = (
                f"spkeras cannot translate this Keras {version or '(unknown version)'} file either: {refusal} "
                "(docs/loading.md lists what is translated)"
            )
        else:
            logger.info(
                "Keras %s could not read %s (%s); translated its Keras 2 config.", keras.__version__, path, text
            )
            return model
    if custom:
        hint = (
            "The model uses a custom layer or function, which the command line cannot load; load it in "
            "Python with spkeras.load_model(path, custom_objects={...}) and convert it there."
            if command_line
            else "The model uses a custom layer or function: pass it in `custom_objects`, or register it with "
            "keras.saving.register_keras_serializable before loading."
        )
    elif translation:
        hint = translation
    else:  # the file check found a model config: it is a model, not weights only
        hint = (
            f"The file holds a model config that Keras {keras.__version__} cannot rebuild; "
            "spkeras.io.list_layers(path) lists its layers without loading any code."
        )
    raise ValueError(
        f"Could not load a Keras model from '{path}': {type(error).__name__}: {text[:600]}. {hint} "
        f"{_describe(path, argument)}"
    ) from error


def save_model(model: keras.Model, path, overwrite: bool = True) -> pathlib.Path:
    """Saves ``model`` to a ``.keras`` file atomically: a failure never leaves a half-written file.

    The file gets the mode of any new file of the user (``0o666`` minus the umask, e.g. ``0o644``). As with
    Keras's ``model.save``, an existing file is replaced by default; it is replaced only once the new file is
    complete, so a failure (a full disk, Ctrl-C) leaves the previous file intact.

    Args:
        model: The model to save (e.g. a converted spiking model).
        path: Destination ending in ``.keras``; its folder must exist.
        overwrite: ``False`` refuses to replace an existing file (a ``ValueError`` before anything is written).

    Returns:
        The destination path.

    Raises:
        ValueError: If ``path`` does not end in ``.keras``, its folder does not exist, or it exists and
            ``overwrite=False``.

    Examples:
        >>> import pathlib, tempfile
        >>> import spkeras
        >>> cnn = spkeras.load_model(spkeras.demo.DEMO_MODEL_PATH)
        >>> path = spkeras.save_model(cnn, pathlib.Path(tempfile.mkdtemp()) / "cnn.keras")
        >>> spkeras.load_model(path).name == cnn.name
        True
    """
    path = pathlib.Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"Converted models are saved as .keras files. Received: path='{path}'.")
    if not path.parent.is_dir():
        raise ValueError(f"The folder of the output file does not exist. Received: path='{path}'.")
    with atomic_output(path, overwrite=overwrite) as temporary:
        model.save(temporary)
    logger.info("Saved '%s' to %s.", model.name, path)
    return path
