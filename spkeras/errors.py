"""The error types of spkeras (all subclasses of the built-in ``ValueError``, so ``except ValueError`` catches them)."""

from __future__ import annotations

import keras


class UnsupportedLayerError(ValueError):
    """Raised when one or more layers of the source model cannot be converted.

    The message names each refused layer, its type and the reason, then the supported layer types.

    Attributes:
        layer_name: Name of the (first) refused layer.
        layer_type: Its class name.
        reason: Why it was refused.
        problems: One ``(layer name, layer type, reason)`` per refused layer.

    Examples:
        >>> import keras
        >>> error = UnsupportedLayerError(keras.layers.LayerNormalization(name="norm"), "no spiking equivalent.")
        >>> error.problems
        [('norm', 'LayerNormalization', 'no spiking equivalent.')]
    """

    def __init__(self, layer: keras.layers.Layer | None, reason: str = "", *, problems=None, model_name: str = ""):
        if problems is None:
            problems = [(layer.name, type(layer).__name__, reason)]
        self.problems = list(problems)
        self.layer_name, self.layer_type, self.reason = self.problems[0]
        from spkeras.conversion.registry import supported_layer_names

        supported = f"Supported layers: {', '.join(supported_layer_names())}."
        count = len(self.problems)
        if count == 1:
            received = "" if "Received" in self.reason else f" Received: a {self.layer_type} layer."
            message = (
                f"Cannot convert layer '{self.layer_name}' ({self.layer_type}): {self.reason}{received} {supported}"
            )
        else:
            details = "\n".join(f"  - '{name}' ({kind}): {why}" for name, kind, why in self.problems)
            details += f"\nReceived: {count} layers that have no spiking equivalent."
            message = (
                f"{len(self.problems)} layers of model '{model_name}' cannot be converted:\n{details}\n{supported}"
            )
        super().__init__(message)

    @classmethod
    def combine(cls, errors: list[UnsupportedLayerError], model_name: str) -> UnsupportedLayerError:
        """One error listing every refused layer of ``errors``."""
        if len(errors) == 1:
            return errors[0]
        problems = [problem for error in errors for problem in error.problems]
        return cls(None, problems=problems, model_name=model_name)
