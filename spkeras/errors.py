"""The error types of spkeras, in one place; this module imports nothing from the rest of the package.

Every type subclasses the built-in ``ValueError``, so ``except ValueError`` catches them all.
"""

from __future__ import annotations

# Where a refused layer's user finds every supported layer type (kept out of the message itself: 60+ names).
SUPPORTED_LAYERS_HINT = "Supported layers: run `spkeras info MODEL`, or see docs/layers.md."
# The way forward for a layer with no converter, unless the converter that refused it knows a better one.
DEFAULT_FIX = "Replace the layer in the model, or write and register a converter for it (docs/extending.md)."
# The way forward for an activation without a spiking equivalent.
ACTIVATION_FIX = (
    "spkeras.prepare_for_conversion(model) (command line: `spkeras finetune`) replaces it by the trainable QCFS "
    "activation; fine-tune, then convert."
)


class UnsupportedLayerError(ValueError):
    """Raised when one or more layers of the source model cannot be converted.

    The message is short: each refused layer's name, type and reason, the fix, and where the supported layer
    types are listed (``spkeras info MODEL``, docs/layers.md).

    Args:
        layer: The refused layer (``None`` when ``problems`` is given).
        reason: Why it was refused (a sentence; add "Received: …" when a value is the cause).
        fix: What the user can do; defaults to :data:`DEFAULT_FIX`.
        problems: One ``(layer name, layer type, reason)`` per refused layer, to report several at once.
        fixes: The fix of each problem (defaults to :data:`DEFAULT_FIX` for each).
        model_name: The model's name, for a message about several layers.

    Attributes:
        layer_name: Name of the (first) refused layer.
        layer_type: Its class name.
        reason: Why it was refused.
        fix: The fix of the (first) refused layer.
        problems: One ``(layer name, layer type, reason)`` per refused layer.
        fixes: One fix per refused layer.

    Examples:
        >>> import keras
        >>> error = UnsupportedLayerError(keras.layers.LayerNormalization(name="norm"), "no spiking equivalent.")
        >>> error.problems
        [('norm', 'LayerNormalization', 'no spiking equivalent.')]
        >>> print(error)  # doctest: +NORMALIZE_WHITESPACE
        Cannot convert layer 'norm' (LayerNormalization): no spiking equivalent. Received: a LayerNormalization
        layer. Replace the layer in the model, or write and register a converter for it (docs/extending.md).
        Supported layers: run `spkeras info MODEL`, or see docs/layers.md.
    """

    def __init__(
        self,
        layer=None,
        reason: str = "",
        fix: str | None = None,
        *,
        problems=None,
        fixes=None,
        model_name: str = "",
    ):
        if problems is None:
            problems = [(layer.name, type(layer).__name__, reason)]
        self.problems = list(problems)
        self.fixes = list(fixes) if fixes is not None else [fix or DEFAULT_FIX] * len(self.problems)
        self.layer_name, self.layer_type, self.reason = self.problems[0]
        self.fix = self.fixes[0]
        count = len(self.problems)
        if count == 1:
            received = "" if "Received" in self.reason else f" Received: a {self.layer_type} layer."
            message = f"Cannot convert layer '{self.layer_name}' ({self.layer_type}): {self.reason}{received}"
            message += f" {self.fix} {SUPPORTED_LAYERS_HINT}"
        else:
            details = "\n".join(f"  - '{name}' ({kind}): {why}" for name, kind, why in self.problems)
            unique_fixes = " ".join(dict.fromkeys(self.fixes))
            message = (
                f"{count} layers of model '{model_name}' cannot be converted:\n{details}\n"
                f"Received: {count} layers that have no spiking equivalent. {unique_fixes}\n{SUPPORTED_LAYERS_HINT}"
            )
        super().__init__(message)

    @classmethod
    def combine(cls, errors: list[UnsupportedLayerError], model_name: str) -> UnsupportedLayerError:
        """One error listing every refused layer of ``errors``.

        Examples:
            >>> import keras
            >>> errors = [UnsupportedLayerError(keras.layers.LSTM(2, name=name), "recurrent.") for name in "ab"]
            >>> UnsupportedLayerError.combine(errors, "net").layer_name
            'a'
        """
        if len(errors) == 1:
            return errors[0]
        problems = [problem for error in errors for problem in error.problems]
        fixes = [fix for error in errors for fix in error.fixes]
        return cls(None, problems=problems, fixes=fixes, model_name=model_name)


class ModelFileNotFoundError(FileNotFoundError, ValueError):
    """Raised when a model file does not exist: ``except FileNotFoundError`` and ``except ValueError`` both catch it.

    Examples:
        >>> import spkeras
        >>> try:
        ...     spkeras.load_model("missing.h5")
        ... except FileNotFoundError as error:
        ...     print(str(error).split(".")[0])
        Model file not found
    """


class UsageError(ValueError):
    """A problem with the command line or its files, found before any work starts (one line, exit status 2).

    Examples:
        >>> from spkeras.cli.support import check_output
        >>> try:
        ...     check_output("snn.h5", "-o/--output", (".keras",))
        ... except UsageError as error:
        ...     print(error)
        -o/--output must end in .keras. Received: -o/--output='snn.h5'.
    """


class NIRConversionError(ValueError):
    """Raised when a network cannot be written to (or read from) NIR without changing what it computes.

    The message names each refused layer (or NIR node), its type and the reason.

    Attributes:
        problems: One ``(name, type, reason)`` per refused layer or node.

    Examples:
        >>> error = NIRConversionError([("if1", "TernaryIntegrateAndFire", "negative spikes.")], "export", "snn")
        >>> print(error)
        Cannot export 'snn' to NIR: layer 'if1' (TernaryIntegrateAndFire): negative spikes.
    """

    def __init__(self, problems, direction: str = "export", model_name: str = ""):
        self.problems = list(problems)
        what = "layer" if direction == "export" else "node"
        head = f"Cannot {direction} '{model_name}' {'to' if direction == 'export' else 'from'} NIR"
        if len(self.problems) == 1:
            name, kind, reason = self.problems[0]
            message = f"{head}: {what} '{name}' ({kind}): {reason}"
        else:
            details = "\n".join(f"  - {what} '{name}' ({kind}): {reason}" for name, kind, reason in self.problems)
            message = f"{head}; {len(self.problems)} problems:\n{details}"
        super().__init__(message)
