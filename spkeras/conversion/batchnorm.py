"""Batch-normalisation folding with each layer's true statistics and its own epsilon."""

from __future__ import annotations

import numpy as np

from spkeras.conversion.ir import Node, consumers, input_offset_current, scale_outputs
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

    Preprocessing maps (``"preprocess"`` nodes: Rescaling, Normalization) are first folded forward into the
    linear op that reads them (see :func:`fold_preprocessing`).

    Returns:
        A new node list without batch-normalisation or preprocessing nodes.

    Examples:
        >>> import keras
        >>> from spkeras.conversion.lower import lower_model
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, use_bias=False),
        ...                           keras.layers.BatchNormalization(), keras.layers.ReLU()])
        >>> [node.kind for node in lower_model(model)]
        ['input', 'linear', 'batchnorm', 'neuron']
        >>> [node.kind for node in fold_batchnorm(lower_model(model))]
        ['input', 'linear', 'neuron']
    """
    nodes = fold_preprocessing(nodes)
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
            affine = _affine_node(node, (new_index[source],))
            new_index[index] = len(result)
            result.append(affine)
            continue
        folded = result[new_index[source]]
        folded.kernel = scale_outputs(folded.kernel, node.scale, folded.layout)
        folded.bias = folded.bias * node.scale + node.offset
        new_index[index] = new_index[source]
    return result


def _affine_node(node: Node, inputs: tuple[int, ...]) -> Node:
    return Node(
        kind="affine",
        source=node.source,
        make_layer=lambda name: ChannelAffine(name=name),
        scale=node.scale,
        offset=node.offset,
        inputs=inputs,
    )


def fold_preprocessing(nodes: list[Node]) -> list[Node]:
    """Folds each preprocessing map ``x·scale + offset`` (Rescaling, Normalization) into the linear op reading it.

    With ``y = W·(x·s + o) + b``: ``W' = W·s`` over the kernel's input-channel axis and ``b' = b + W·o`` (the
    current the constant offset drives). Consecutive maps are composed first. The fold is exact when the
    linear op is the map's only reader and does not pad its input; a padding op (``padding="same"``) still
    takes the scale when the offset is zero (zero padding commutes with scaling). Any other map becomes an
    ``"affine"`` node applied to the current (for the analog input: once, before the first spiking layer).

    Args:
        nodes: IR nodes in topological order; they are not modified.

    Returns:
        A new node list without ``"preprocess"`` nodes.

    Examples:
        >>> import keras, numpy as np
        >>> from spkeras.conversion.lower import lower_model
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Rescaling(0.5, offset=1.0),
        ...                           keras.layers.Dense(2)])
        >>> [node.kind for node in fold_preprocessing(lower_model(model))]
        ['input', 'linear']
    """
    if not any(node.kind == "preprocess" for node in nodes):
        return nodes
    readers = consumers(nodes)
    result: list[Node] = []
    new_index: dict[int, int] = {}
    pending: dict[int, tuple[np.ndarray, np.ndarray, int]] = {}  # preprocess index -> (scale, offset, source)

    def materialise(index: int) -> int:
        """Result index of the tensor ``index`` stands for (a pending map becomes an affine node)."""
        if index not in pending:
            return new_index[index]
        scale, offset, source = pending.pop(index)
        node = Node(**{**vars(nodes[index]), "scale": scale, "offset": offset})
        result.append(_affine_node(node, (materialise(source),)))
        new_index[index] = len(result) - 1
        return new_index[index]

    for index, node in enumerate(nodes):
        fed_by = node.inputs[0] if len(node.inputs) == 1 else None
        carried = pending.get(fed_by) if fed_by is not None and len(readers[fed_by]) == 1 else None
        if node.kind == "preprocess":
            if carried is not None:
                scale, offset, source = pending.pop(fed_by)
                pending[index] = (scale * node.scale, offset * node.scale + node.offset, source)
            else:
                pending[index] = (node.scale, node.offset, fed_by)
            continue
        if node.kind == "linear" and carried is not None and (not node.pads or not np.any(carried[1])):
            scale, offset, source = pending.pop(fed_by)
            kernel = node.kernel * scale[:, None]
            bias = node.bias + input_offset_current(node.kernel, offset, node.layout)
            inputs = (materialise(source),)
            result.append(Node(**{**vars(node), "kernel": kernel, "bias": bias, "inputs": inputs}))
            new_index[index] = len(result) - 1
            continue
        inputs = tuple(materialise(i) for i in node.inputs)
        result.append(Node(**{**vars(node), "inputs": inputs}))
        new_index[index] = len(result) - 1
    for index in sorted(pending):  # a map nothing reads any more, or the model's output
        materialise(index)
    return result
