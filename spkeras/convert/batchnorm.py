"""Batch-normalisation folding with each layer's true statistics and its own epsilon."""

from __future__ import annotations

from spkeras.convert.ir import Node, consumers
from spkeras.layers.affine import ChannelAffine


def fold_batchnorm(nodes: list[Node]) -> list[Node]:
    """Folds every batch-normalisation node into the linear node that feeds it.

    With the BN map ``y = x·scale + offset`` (``scale = γ/√(σ²+ε)``, ``offset = β − μ·scale``, ε the layer's
    own epsilon) after ``x = W·in + b``: ``W' = W·scale`` over the output-channel axis and
    ``b' = b·scale + offset``. A linear layer without bias gets the folded bias.

    Args:
        nodes: IR nodes in topological order. They are not modified; folded copies are returned.

    A BN that does not directly follow a Conv2D/Dense whose output only it reads (BN after pooling, after a
    ReLU, at the input) becomes an ``"affine"`` node: a :class:`~spkeras.layers.ChannelAffine` applied to each
    step's current, which is exact because the map is linear. It is never dropped.

    Returns:
        A new node list without batch-normalisation nodes.

    Examples:
        >>> import keras
        >>> from spkeras.convert.lower import lower_model
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, use_bias=False),
        ...                           keras.layers.BatchNormalization(), keras.layers.ReLU()])
        >>> [node.kind for node in lower_model(model)]
        ['input', 'linear', 'batchnorm', 'neuron']
        >>> [node.kind for node in fold_batchnorm(lower_model(model))]
        ['input', 'linear', 'neuron']
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
            # Not foldable: keep it as a per-step affine map of the current (exact, since it is linear).
            affine = Node(
                kind="affine",
                source=node.source,
                make_layer=lambda name: ChannelAffine(name=name),
                scale=node.scale,
                offset=node.offset,
                inputs=(new_index[source],),
            )
            new_index[index] = len(result)
            result.append(affine)
            continue
        folded = result[new_index[source]]
        folded.kernel = folded.kernel * node.scale
        folded.bias = folded.bias * node.scale + node.offset
        new_index[index] = new_index[source]
    return result
