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

from spkeras.errors import ACTIVATION_FIX, UnsupportedLayerError

# Keras activation layers without a spiking equivalent: their refusal names prepare_for_conversion (QCFS) as the fix.
ACTIVATION_LAYER_NAMES = ("ELU", "LeakyReLU", "PReLU", "ThresholdedReLU")

_CONVERTERS: dict[type, Callable] = {}


@dataclasses.dataclass
class ConversionContext:
    """What a converter may need to know beyond the layer itself.

    Attributes:
        is_output: Whether the layer produces the model's output.
        max_pooling: Policy for ``MaxPooling2D``: ``"average"``, ``"spiking"`` or ``"error"``.
    """

    is_output: bool = False
    max_pooling: str = "spiking"


def register_converter(*layer_classes: type) -> Callable:
    """Registers a converter function for the given Keras layer classes.

    Args:
        *layer_classes: One or more ``keras.layers.Layer`` subclasses.

    Returns:
        A decorator that registers the function and returns it unchanged.

    Examples:
        >>> import keras
        >>> from spkeras.conversion.registry import register_converter
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


def unregister_converter(*layer_classes: type) -> None:
    """Removes the converters registered for the given layer classes (e.g. ones a test registered).

    Raises:
        ValueError: If a class has no converter registered for it directly.

    Examples:
        >>> import keras
        >>> class Doubling(keras.layers.Layer):
        ...     def call(self, x):
        ...         return 2 * x
        >>> @register_converter(Doubling)
        ... def convert_doubling(layer, context):
        ...     raise UnsupportedLayerError(layer, "example only.")
        >>> "Doubling" in supported_layer_names()
        True
        >>> unregister_converter(Doubling)
        >>> "Doubling" in supported_layer_names()
        False
    """
    missing = [layer_class for layer_class in layer_classes if layer_class not in _CONVERTERS]
    if missing:
        raise ValueError(
            f"No converter is registered for {[c.__name__ if isinstance(c, type) else c for c in missing]}. "
            f"Received: {missing}. Registered: {supported_layer_names()}."
        )
    for layer_class in layer_classes:
        del _CONVERTERS[layer_class]


def registered_converter(layer_class: type) -> Callable | None:
    """The converter registered for exactly ``layer_class`` (no MRO lookup), or None."""
    return _CONVERTERS.get(layer_class)


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
    if type(layer).__name__ in ACTIVATION_LAYER_NAMES:
        raise UnsupportedLayerError(layer, "this activation has no spiking equivalent.", ACTIVATION_FIX)
    raise UnsupportedLayerError(layer, "no converter is registered for this layer type.")


def supported_layer_names() -> list[str]:
    """Names of the layer types that have a registered converter, sorted.

    Examples:
        >>> {"Conv2D", "Dense", "ReLU"} <= set(supported_layer_names())
        True
    """
    return sorted(layer_class.__name__ for layer_class in _CONVERTERS)
