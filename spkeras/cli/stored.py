"""A model file's stored architecture, read as JSON without building the model or running code stored in it.

``spkeras info`` uses it for files that store Python code (``Lambda`` layers): Keras would run that code when
loading, so such a file is described from its config instead (unless ``--unsafe`` is given).
"""

from __future__ import annotations

CODE_LAYERS = ("Lambda",)  # layer types whose config carries Python code (bytecode or a function reference)
_MODELS = ("Sequential", "Functional", "Model")


def stored_config(path) -> dict:
    """The model config stored in a ``.keras`` archive (``config.json``) or an ``.h5`` file (``model_config``).

    The file must have passed :func:`spkeras.io.check_model_file` (a complete archive or HDF5 file).

    Examples:
        >>> import pathlib, tempfile, keras
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "m.keras"
        >>> keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="out")]).save(path)
        >>> stored_config(path)["class_name"]
        'Sequential'
    """
    from spkeras.io import read_model_config  # checks the size of the config before reading it

    return read_model_config(path)


def stored_layers(config: dict) -> list[tuple[str, str]]:
    """``(name, class name)`` of every layer in a model config, nested models flattened, input layers left out.

    Examples:
        >>> config = {"class_name": "Sequential", "config": {"layers": [
        ...     {"class_name": "InputLayer", "config": {"name": "input"}},
        ...     {"class_name": "Lambda", "config": {"name": "double", "function": "..."}},
        ...     {"class_name": "Dense", "config": {"name": "out", "units": 2}}]}}
        >>> stored_layers(config)
        [('double', 'Lambda'), ('out', 'Dense')]
    """
    inner = config.get("config") if isinstance(config, dict) else None
    entries = inner.get("layers") if isinstance(inner, dict) else inner
    found = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("class_name"), str):
            continue
        class_name = entry["class_name"]
        if class_name in _MODELS:
            found.extend(stored_layers(entry))
        elif class_name != "InputLayer":
            layer_config = entry.get("config") if isinstance(entry.get("config"), dict) else {}
            found.append((str(layer_config.get("name", entry.get("name", "?"))), class_name))
    return found


def code_layers(config: dict) -> list[tuple[str, str]]:
    """The layers of a model config that store Python code (``Lambda``), as ``(name, class name)``.

    Examples:
        >>> config = {"class_name": "Sequential", "config": {"layers": [
        ...     {"class_name": "Lambda", "config": {"name": "double", "function": "..."}}]}}
        >>> code_layers(config)
        [('double', 'Lambda')]
    """
    return [(name, kind) for name, kind in stored_layers(config) if kind in CODE_LAYERS]


def config_report(config: dict, max_pooling: str = "spiking") -> list[tuple[str, str, str | None]]:
    """``(name, type, reason)`` per layer, from the config alone: like ``spkeras.conversion.layer_report``.

    A layer that stores code is refused; the other layers can only be checked by type (their settings, e.g.
    an activation, need the loaded model): a type without a converter is refused (and max pooling with
    ``max_pooling="error"``), the others say so.

    Examples:
        >>> config = {"class_name": "Sequential", "config": {"layers": [
        ...     {"class_name": "Lambda", "config": {"name": "double"}},
        ...     {"class_name": "Dense", "config": {"name": "out"}}]}}
        >>> [(name, reason is None) for name, _, reason in config_report(config)]
        [('double', False), ('out', True)]
    """
    from spkeras.conversion import supported_layer_names

    supported = set(supported_layer_names())
    report = []
    for name, kind in stored_layers(config):
        if kind in CODE_LAYERS:
            reason = (
                "a Lambda layer is Python code, which no converter can translate (and which was not loaded: it "
                "would run). Replace it with built-in layers; docs/layers.md lists those that convert."
            )
        elif kind not in supported:
            reason = "no converter is registered for this layer type (docs/layers.md lists those that convert)."
        elif kind.startswith("MaxPooling") and max_pooling == "error":
            reason = "max pooling is refused with --max-pooling error."
        else:
            reason = None
        report.append((name, kind, reason))
    return report
