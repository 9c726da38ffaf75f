"""Batch-normalisation folding with each layer's true statistics and its own epsilon."""

from __future__ import annotations

from spkeras.convert.ir import Node, consumers
from spkeras.convert.registry import UnsupportedLayerError


def fold_batchnorm(nodes: list[Node]) -> list[Node]:
    """Folds every batch-normalisation node into the linear node that feeds it.

    With the BN map ``y = x·scale + offset`` (``scale = γ/√(σ²+ε)``, ``offset = β − μ·scale``, ε the layer's
    own epsilon) after ``x = W·in + b``: ``W' = W·scale`` over the output-channel axis and
    ``b' = b·scale + offset``. A linear layer without bias gets the folded bias.

    Args:
        nodes: IR nodes in topological order. They are not modified; folded copies are returned.

    Returns:
        A new node list without batch-normalisation nodes.

    Raises:
        UnsupportedLayerError: If a BN does not directly follow a Conv2D/Dense whose output only the BN reads.

    Examples:
        >>> # used by spkeras.convert; see tests/convert/test_batchnorm.py
    """
    readers = consumers(nodes)
    result: list[Node] = []
    new_index: dict[int, int] = {}
    for index, node in enumerate(nodes):
        if node.kind != "batchnorm":
            copy = Node(**{**vars(node), "inputs": tuple(new_index[i] for i in node.inputs)})
            new_index[index] = len(result)
            result.append(copy)
            continue
        (source,) = node.inputs
        producer = nodes[source]
        if producer.kind != "linear" or len(readers[source]) != 1:
            where = f"'{producer.name}' ({type(producer.source).__name__})"
            reason = (
                f"BatchNormalization can only be folded into a directly preceding Conv2D/Dense whose output it "
                f"alone reads. Received: it follows {where}"
                + ("" if producer.kind == "linear" else ", which is not a linear layer")
                + (", whose output is also read elsewhere" if len(readers[source]) != 1 else "")
                + ". Move the BatchNormalization right after a Conv2D/Dense, or retrain without it."
            )
            raise UnsupportedLayerError(node.source, reason)
        folded = result[new_index[source]]
        folded.kernel = folded.kernel * node.scale
        folded.bias = folded.bias * node.scale + node.offset
        new_index[index] = new_index[source]
    return result
