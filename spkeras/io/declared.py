"""Declared sizes: a lower bound of every layer's weight values from its own config, checked against the file.

Before Keras builds the model, every layer of the model config (``model_config`` of an ``.h5``, ``config.json``
of a ``.keras``; nested models too) gets a lower bound of its weight values from its own config: ``Dense``
``units`` x (1 + bias), convolutions ``filters`` x the kernel's area (+ bias), depthwise and separable
convolutions, ``Embedding`` ``input_dim`` x ``output_dim``, recurrent layers ``units`` squared x gates;
input-dependent dimensions count as 1. A layer whose bound exceeds what the file stores for it is refused by
name: for an ``.h5``, the values of its weight datasets (or of all weights when it has no group of its name);
for a ``.keras``, two values per byte of the archive's weight entries (int4 is the densest format Keras stores).
A layer cannot hold more values than the file has, so this never refuses a file Keras could load, and a config
edited to ``Dense(units=10**9)`` is refused instead of allocating 4 GB.
"""

from __future__ import annotations

import math

from spkeras.io.hdf5 import _DAMAGED_FIX

_CONVOLUTIONS = {"Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose"}
_CONVOLUTIONS |= {"Convolution1D", "Convolution2D", "Convolution3D", "Convolution2DTranspose", "Deconvolution2D"}
_RECURRENT_GATES = {"SimpleRNN": 1, "GRU": 3, "LSTM": 4}
_MODELS = {"Sequential", "Functional", "Model"}


def _positive(config: dict, key: str, default: int = 1) -> int:
    value = config.get(key, default)
    return value if isinstance(value, int) and value > 0 else 1  # anything else Keras refuses by itself


def _kernel_area(config: dict) -> int:
    size = config.get("kernel_size", 1)
    sizes = size if isinstance(size, (list, tuple)) else [size]
    return math.prod(value if isinstance(value, int) and value > 0 else 1 for value in sizes)


def _declared_at_least(class_name: str, config: dict) -> tuple[int, str]:
    """A lower bound of the weight values a layer declares (from its own config) and the settings behind it."""
    bias = 1 if config.get("use_bias", True) is not False else 0
    if class_name == "Dense":
        units = _positive(config, "units")
        return units * (1 + bias), f"units={config.get('units')}"
    if class_name in _CONVOLUTIONS:
        filters = _positive(config, "filters")
        return filters * (_kernel_area(config) + bias), f"filters={config.get('filters')}, " + (
            f"kernel_size={config.get('kernel_size')}"
        )
    if class_name in ("DepthwiseConv1D", "DepthwiseConv2D"):
        multiplier = _positive(config, "depth_multiplier")
        return multiplier * (_kernel_area(config) + bias), f"depth_multiplier={config.get('depth_multiplier')}"
    if class_name in ("SeparableConv1D", "SeparableConv2D", "SeparableConvolution2D"):
        multiplier, filters = _positive(config, "depth_multiplier"), _positive(config, "filters")
        declared = multiplier * _kernel_area(config) + multiplier * filters + bias * filters
        return declared, f"filters={config.get('filters')}, depth_multiplier={config.get('depth_multiplier')}"
    if class_name == "Embedding":
        declared = _positive(config, "input_dim") * _positive(config, "output_dim")
        return declared, f"input_dim={config.get('input_dim')}, output_dim={config.get('output_dim')}"
    if class_name in _RECURRENT_GATES:
        units = _positive(config, "units")
        return _RECURRENT_GATES[class_name] * units * (units + 1), f"units={config.get('units')}"
    return 0, ""


def _config_layers(config) -> list:
    """The layer entries of a Sequential/Functional config (Keras 3, Keras 2, or a bare Keras 2.0 list)."""
    inner = config.get("config") if isinstance(config, dict) else None
    layers = inner.get("layers") if isinstance(inner, dict) else inner
    return [layer for layer in layers if isinstance(layer, dict)] if isinstance(layers, list) else []


def _declared_layers(config) -> list[tuple[str, str, int, str]]:
    """(name, class, lower bound of its weight values, settings) for every top-level layer of a model config."""
    found = []
    for layer in _config_layers(config):
        class_name, inner = layer.get("class_name"), layer.get("config")
        if not isinstance(class_name, str) or not isinstance(inner, dict):
            continue
        name = inner.get("name", layer.get("name"))
        if class_name in _MODELS:
            declared = sum(entry[2] for entry in _declared_layers(layer))
            settings = "its layers"
        else:
            declared, settings = _declared_at_least(class_name, inner)
        found.append((name if isinstance(name, str) else str(name), class_name, declared, settings))
    return found


def _check_declared_sizes(config, stored: dict[str, int] | None, capacity: int, prefix: str, received: str):
    """Refuses the first layer that declares more weight values than the file can hold for it.

    ``stored`` maps layer names to the values stored for them (``.h5``), ``capacity`` is the most values the
    file holds in all (a layer without a group of its name is compared with it).
    """
    for name, class_name, declared, settings in _declared_layers(config):
        available = stored.get(name, capacity) if stored is not None else capacity
        if declared > available:
            where = "for it" if stored is not None and name in stored else "in all"
            raise ValueError(
                f"{prefix} layer '{name}' ({class_name}) declares at least {declared:,} weight values, but the file "
                f"stores {available:,} {where}: its config and its weights disagree (the file is damaged or was "
                f"edited). Received: {settings} for layer '{name}' in {received[len('Received: ') :]} {_DAMAGED_FIX}"
            )
