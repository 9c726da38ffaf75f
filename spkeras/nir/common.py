"""What the NIR exporter and importer share: the optional dependency, the error and refusal types, the tensor record.

The export modules (:mod:`~spkeras.nir.export`, :mod:`~spkeras.nir.export_layers`, :mod:`~spkeras.nir.neurons`)
and the import modules (:mod:`~spkeras.nir.importer`, :mod:`~spkeras.nir.import_layers`) all import from here and
from :mod:`~spkeras.nir.layout`, never from each other in both directions: the drivers (``export``, ``importer``)
import their one dispatch table, and the table's modules import only this module and ``layout``.
"""

from __future__ import annotations

import dataclasses
import importlib

import numpy as np

INSTALL_HINT = 'pip install "spkeras[nir]"'


def require_nir():
    """Returns the ``nir`` module, or raises an ``ImportError`` that says how to install it.

    Examples:
        >>> import importlib.util
        >>> require_nir().__name__ if importlib.util.find_spec("nir") else "nir"
        'nir'
    """
    try:
        return importlib.import_module("nir")
    except ImportError as error:
        raise ImportError(
            f"NIR export and import need the optional package 'nir', which is not installed: {INSTALL_HINT} "
            f"(or pip install nir). ({error})"
        ) from None


class Refused(Exception):
    """One layer (export) or NIR node (import) without an exact counterpart.

    Raised by a dispatch-table handler; the driver collects every refusal and raises them together as one
    :class:`spkeras.errors.NIRConversionError`.

    Examples:
        >>> Refused("no NIR form.").reason
        'no NIR form.'
    """

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclasses.dataclass
class Tensor:
    """One Keras tensor while exporting.

    Attributes:
        sources: NIR nodes whose outputs sum to this tensor (several after an ``Add``: NIR edges into a node add).
        shape: Per-sample Keras shape.
        perm: For a vector, the NIR order (``nir[i] = keras[perm[i]]``); ``None``: the same order.
        padding: ``((top, bottom), (left, right))`` zeros of a ``ZeroPadding2D`` still to be applied (by the
            next Conv2d, which pads in NIR).
        parts: After a ``Concatenate``, ``((tensor, channels), ...)`` of its inputs (NIR has no concatenation: the
            Conv2D or Dense that reads it becomes one node per part).
        bias_target: The Conv2d/Affine node that alone drives this tensor through ops that keep each channel's
            offset (its bias can absorb a constant current per channel); ``None`` if there is none.
        broken: A stand-in for the output of a refused layer (the export fails; later layers are still checked).

    Examples:
        >>> Tensor(("input",), (28, 28, 1)).perm is None
        True
    """

    sources: tuple[str, ...]
    shape: tuple[int, ...]
    perm: np.ndarray | None = None
    padding: tuple | None = None
    parts: tuple | None = None
    bias_target: str | None = None
    broken: bool = False


def kind(node) -> str:
    """The NIR primitive's name (``"Conv2d"``, ``"IF"``, ...).

    Examples:
        >>> kind(Refused("an example"))  # for a NIR node: "Conv2d", "IF", ...
        'Refused'
    """
    return type(node).__name__


def text(value):
    """A metadata value as written (``nir.read`` returns strings as bytes or 0-d arrays).

    Examples:
        >>> text(np.array(b"soft"))
        'soft'
    """
    value = value.item() if isinstance(value, np.ndarray) and value.ndim == 0 else value
    return value.decode("utf-8") if isinstance(value, bytes) else value
