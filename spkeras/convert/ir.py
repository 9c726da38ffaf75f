"""The small intermediate representation the converter works on.

A source model becomes a list of :class:`Node` in topological order. Each node is one of:

- ``"input"``: the model input;
- ``"linear"``: a synaptic operation with a kernel and a bias (Conv2D, Dense), output channels last;
- ``"batchnorm"``: a per-channel affine map ``x·scale + offset`` (folded away before building);
- ``"affine"``: a batch norm that could not be folded, kept as a per-channel affine map of the current;
- ``"neuron"``: a ReLU site, which becomes an integrate-and-fire layer;
- ``"structural"``: an operation that is linear, has no weights and keeps channels (pooling, padding,
  flatten), applied unchanged to spikes;
- ``"merge"``: a layer combining several tensors (Add, Concatenate), exact when its inputs share one scale.

Converters return :class:`Step` objects (a node without its connections); :func:`chain_steps` wires them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import keras
import numpy as np

KINDS = ("input", "linear", "batchnorm", "affine", "neuron", "structural", "merge")


@dataclasses.dataclass
class Step:
    """A node of the intermediate representation before it is connected.

    Attributes:
        kind: One of ``KINDS``.
        source: The source Keras layer the step comes from (names it in messages and in the new model).
        make_layer: For ``linear`` and ``structural`` steps: ``make_layer(name)`` returns a new, unbuilt
            Keras layer doing the same operation (for ``linear``: with a bias and no activation).
        kernel: For ``linear``: the kernel, output channels on the last axis.
        bias: For ``linear``: the bias, one value per output channel.
        scale: For ``batchnorm``: the per-channel multiplier.
        offset: For ``batchnorm``: the per-channel offset.
        map_scale: For ``structural``: maps a per-channel scale vector of the input to that of the output
            (identity for pooling and padding; tiling for Flatten). ``None`` means identity.
        bound: For ``neuron``: the upper clip of a clipped ReLU (``ReLU(max_value=m)``, ``relu6``), else None.
    """

    kind: str
    source: keras.layers.Layer
    make_layer: Callable[[str], keras.layers.Layer] | None = None
    kernel: np.ndarray | None = None
    bias: np.ndarray | None = None
    scale: np.ndarray | None = None
    offset: np.ndarray | None = None
    map_scale: Callable[[np.ndarray], np.ndarray] | None = None
    bound: float | None = None


@dataclasses.dataclass
class Node(Step):
    """A connected step: ``inputs`` holds the indices of the nodes that feed it."""

    inputs: tuple[int, ...] = ()

    @property
    def name(self) -> str:
        return self.source.name


def consumers(nodes: list[Node]) -> list[list[int]]:
    """For each node, the indices of the nodes that read its output."""
    readers: list[list[int]] = [[] for _ in nodes]
    for index, node in enumerate(nodes):
        for source in node.inputs:
            readers[source].append(index)
    return readers
