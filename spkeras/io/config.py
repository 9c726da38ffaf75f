"""A model file's stored config and layer list, read without Keras and without deserialising any code.

``spkeras info`` uses :func:`list_layers` to report every layer of a file, a ``Lambda`` layer too (as
unsupported), where loading it would be refused: the config is JSON, read as data; nothing in it is run.
"""

from __future__ import annotations

import json
import pathlib
import zipfile
from typing import NamedTuple

from spkeras.io.check import check_model_file
from spkeras.io.hdf5 import _text

_MODELS = {"Sequential", "Functional", "Model"}
_MAX_CONFIG_BYTES = 64 * 2**20  # as for the file check: a larger config.json is not parsed here
_MAX_DEPTH = 32  # models nested deeper than this are not listed (no real model comes close)


class LayerEntry(NamedTuple):
    """One layer of a stored model config.

    Attributes:
        name: The layer's name (``outer/inner`` for a layer of a nested model).
        class_name: The class the config names (e.g. ``"Conv2D"``, ``"Lambda"``), never imported.

    Examples:
        >>> LayerEntry("dense", "Dense").class_name
        'Dense'
    """

    name: str
    class_name: str


def read_model_config(path, argument: str = "path") -> dict:
    """The model config stored in a ``.h5`` (``model_config``) or ``.keras`` (``config.json``) file, as data.

    The file is checked first (:func:`spkeras.io.check_model_file`), so a damaged file is refused before it is
    parsed.

    Args:
        path: A ``.h5``/``.hdf5`` or ``.keras`` model file.
        argument: How the caller names the file in messages.

    Returns:
        The parsed JSON object (``{"class_name": ..., "config": ...}``).

    Raises:
        ValueError: As :func:`spkeras.io.check_model_file`, or if the config cannot be read.

    Examples:
        >>> import spkeras
        >>> read_model_config(spkeras.demo.DEMO_MODEL_PATH)["class_name"]
        'Sequential'
    """
    path = check_model_file(path, argument)
    received = f"Received: {argument}='{path}'."
    try:
        if path.suffix.lower() == ".keras":
            with zipfile.ZipFile(path) as archive:
                entry = archive.getinfo("config.json")
                if entry.file_size > _MAX_CONFIG_BYTES:
                    raise ValueError(f"its config.json is larger than {_MAX_CONFIG_BYTES:,} bytes")
                text = archive.read(entry).decode("utf-8")
        else:
            import h5py

            with h5py.File(path, "r") as handle:
                text = _text(handle.attrs["model_config"], "attribute 'model_config'")
        config = json.loads(text)
    except (OSError, KeyError, ValueError, TypeError, RecursionError, zipfile.BadZipFile) as error:
        raise ValueError(f"Could not read the model config of '{path}': {error}. {received}") from error
    if not isinstance(config, dict):
        raise ValueError(f"The model config of '{path}' is not a JSON object. {received}")
    return config


def _entries(config, prefix: str, depth: int) -> list[LayerEntry]:
    inner = config.get("config") if isinstance(config, dict) else None
    layers = inner.get("layers") if isinstance(inner, dict) else inner  # a Keras 2.0/2.1 Sequential: a bare list
    found = []
    for layer in layers if isinstance(layers, list) else []:
        if not isinstance(layer, dict):
            continue
        layer_config = layer.get("config") if isinstance(layer.get("config"), dict) else {}
        name = str(layer_config.get("name", layer.get("name", "?")))
        class_name = str(layer.get("class_name", "?"))
        found.append(LayerEntry(prefix + name, class_name))
        if class_name in _MODELS and depth < _MAX_DEPTH:
            found.extend(_entries(layer, f"{prefix}{name}/", depth + 1))
    return found


def list_layers(path, argument: str = "path") -> list[LayerEntry]:
    """Every layer a model file declares (name and class), read from its config without loading the model.

    Nothing is imported or deserialised, so a file with a ``Lambda`` layer (Python code) or a custom layer can
    be inspected safely; layers of nested models follow their model as ``outer/inner``.

    Args:
        path: A ``.h5``/``.hdf5`` or ``.keras`` model file.
        argument: How the caller names the file in messages.

    Returns:
        One :class:`LayerEntry` per layer, in the config's order.

    Raises:
        ValueError: As :func:`read_model_config`.

    Examples:
        >>> import spkeras
        >>> [entry.class_name for entry in list_layers(spkeras.demo.DEMO_MODEL_PATH)][:2]
        ['InputLayer', 'Conv2D']
    """
    return config_layers(read_model_config(path, argument))


def config_layers(config: dict) -> list[LayerEntry]:
    """Every layer a model config declares (name and class), nested models included, as :func:`list_layers`.

    Examples:
        >>> config = {"class_name": "Sequential", "config": {"layers": [
        ...     {"class_name": "Dense", "config": {"name": "out", "units": 2}}]}}
        >>> config_layers(config)
        [LayerEntry(name='out', class_name='Dense')]
    """
    return _entries(config, "", 0)


def declared_input_shapes(config) -> list[tuple] | None:
    """The input shapes (batch axis included) a Keras 2 model config declares, or None where it declares none.

    A Sequential's first layer's (or ``InputLayer``'s) ``batch_input_shape``; a functional model's input layers'.
    """
    inner = config.get("config") if isinstance(config, dict) else None
    layers = inner.get("layers") if isinstance(inner, dict) else inner
    if not isinstance(layers, list) or not layers or not all(isinstance(layer, dict) for layer in layers):
        return None
    if config.get("class_name") == "Sequential":
        chosen = [layers[0]]
    else:
        names = [entry[0] for entry in (inner.get("input_layers") or []) if isinstance(entry, list) and entry]
        by_name = {layer.get("name"): layer for layer in layers}
        chosen = [by_name.get(name) for name in names]
    shapes = []
    for layer in chosen:
        shape = (layer or {}).get("config", {}).get("batch_input_shape") if isinstance(layer, dict) else None
        if not isinstance(shape, list):
            return None
        shapes.append(tuple(shape))
    return shapes or None


def stored_keras_version(path) -> str:
    """The ``keras_version`` attribute of an already checked ``.h5`` file (``""`` when it has none)."""
    import h5py

    with h5py.File(pathlib.Path(path), "r") as handle:
        value = handle.attrs.get("keras_version")
        try:
            return _text(value, "attribute 'keras_version'") if value is not None else ""
        except (TypeError, UnicodeDecodeError):
            return ""
