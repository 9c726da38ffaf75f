"""The one registry that maps a Keras layer type to its converter.

A converter is a function ``converter(layer, context) -> list[Step]`` registered for one or more layer
classes with :func:`register_converter`. Lookup walks ``type(layer).__mro__``, so a subclass of
``keras.layers.Conv2D`` uses the Conv2D converter unless it registers its own. A converter refuses a layer
it cannot convert faithfully by raising :class:`UnsupportedLayerError` with the reason.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import keras

_CONVERTERS: dict[type, Callable] = {}


class UnsupportedLayerError(ValueError):
    """Raised when a layer of the source model cannot be converted.

    The message names the layer, its type, the reason, and the supported layer types.
    """

    def __init__(self, layer: keras.layers.Layer, reason: str):
        self.layer_name = layer.name
        self.layer_type = type(layer).__name__
        self.reason = reason
        super().__init__(
            f"Cannot convert layer '{layer.name}' ({type(layer).__name__}): {reason} "
            f"Supported layers: {', '.join(supported_layer_names())}."
        )


@dataclasses.dataclass
class ConversionContext:
    """What a converter may need to know beyond the layer itself.

    Attributes:
        is_output: Whether the layer produces the model's output.
        max_pooling: Policy for ``MaxPooling2D``: ``"average"`` or ``"error"``.
    """

    is_output: bool = False
    max_pooling: str = "average"


def register_converter(*layer_classes: type) -> Callable:
    """Registers a converter function for the given Keras layer classes.

    Args:
        *layer_classes: One or more ``keras.layers.Layer`` subclasses.

    Returns:
        A decorator that registers the function and returns it unchanged.

    Examples:
        >>> import keras
        >>> from spkeras.convert.registry import register_converter
        >>> @register_converter(keras.layers.Identity)
        ... def convert_identity(layer, context):
        ...     return []  # an empty list means: the layer disappears from the spiking network
    """
    for layer_class in layer_classes:
        if not (isinstance(layer_class, type) and issubclass(layer_class, keras.layers.Layer)):
            raise TypeError(f"register_converter expects Keras layer classes. Received: {layer_class!r}.")

    def decorator(function: Callable) -> Callable:
        for layer_class in layer_classes:
            _CONVERTERS[layer_class] = function
        return function

    return decorator


def find_converter(layer: keras.layers.Layer) -> Callable:
    """Returns the converter registered for ``layer``'s class or its closest registered base class.

    Raises:
        UnsupportedLayerError: If no converter is registered along the class's MRO.
    """
    for layer_class in type(layer).__mro__:
        if layer_class in _CONVERTERS:
            return _CONVERTERS[layer_class]
        if layer_class is keras.layers.Layer:
            break
    raise UnsupportedLayerError(layer, "no converter is registered for this layer type.")


def supported_layer_names() -> list[str]:
    """Names of the layer types that have a registered converter, sorted."""
    return sorted(layer_class.__name__ for layer_class in _CONVERTERS)
