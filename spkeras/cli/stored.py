"""A model file's stored architecture, read as JSON without building the model or running code stored in it.

``spkeras info`` uses it for files that store Python code (``Lambda`` layers): Keras would run that code when
loading, so such a file is described from its config instead (unless ``--unsafe`` is given).
"""

from __future__ import annotations

from spkeras.io import config_layers

CODE_LAYERS = ("Lambda",)  # layer types whose config carries Python code (bytecode or a function reference)
_MODELS = ("Sequential", "Functional", "Model")


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
    # One walker of stored configs (spkeras.io, bounded in depth); nested models' own entries are left out and
    # their layers keep their own names.
    return [
        (entry.name.rsplit("/", 1)[-1], entry.class_name)
        for entry in config_layers(config)
        if entry.class_name not in _MODELS and entry.class_name != "InputLayer"
    ]


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
