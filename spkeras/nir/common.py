"""What the NIR exporter and importer share: the optional dependency and the error type."""

from __future__ import annotations

import importlib

INSTALL_HINT = 'pip install "spkeras[nir]"'


def require_nir():
    """Returns the ``nir`` module, or raises an ``ImportError`` that says how to install it."""
    try:
        return importlib.import_module("nir")
    except ImportError as error:
        raise ImportError(
            f"NIR export and import need the optional package 'nir', which is not installed: {INSTALL_HINT} "
            f"(or pip install nir). ({error})"
        ) from None


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
