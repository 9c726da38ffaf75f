"""The small intermediate representation the converter works on.

A source model becomes a list of :class:`Node` in topological order. Each node is one of:

- ``"input"``: the model input;
- ``"linear"``: a synaptic operation with a kernel and a bias (Conv1D, Conv2D, DepthwiseConv2D, Dense), output
  channels last; its ``layout`` says how the kernel's axes map to input and output channels;
- ``"batchnorm"``: a per-channel affine map ``x·scale + offset`` (folded away before building);
- ``"preprocess"``: a per-channel affine map of the input side (Rescaling, Normalization), folded into the
  linear op that reads it where that is exact, otherwise kept as an ``"affine"`` node;
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

KINDS = ("input", "linear", "batchnorm", "preprocess", "affine", "neuron", "structural", "merge")

LAYOUTS = ("dense", "depthwise")
"""Kernel layouts of ``"linear"`` steps: ``"dense"`` kernels are ``(..., C_in, C_out)`` (Dense, Conv1D, Conv2D);
``"depthwise"`` kernels are ``(kh, kw, C, M)`` and output channel ``c·M + m`` reads input channel ``c`` only."""


@dataclasses.dataclass
class Step:
    """A node of the intermediate representation before it is connected.

    Attributes:
        kind: One of ``KINDS``.
        source: The source Keras layer the step comes from (names it in messages and in the new model).
        make_layer: For ``linear`` and ``structural`` steps: ``make_layer(name)`` returns a new, unbuilt
            Keras layer doing the same operation (for ``linear``: with a bias and no activation).
        make_spiking_layer: For ``structural`` steps whose spiking form differs from the ANN's (spiking max
            pooling): ``make_spiking_layer(name)`` returns the layer of the spiking network; ``None`` means
            ``make_layer`` serves both.
        kernel: For ``linear``: the kernel, output channels on the last axis.
        bias: For ``linear``: the bias, one value per output channel.
        scale: For ``batchnorm``: the per-channel multiplier.
        offset: For ``batchnorm``: the per-channel offset.
        map_scale: For ``structural``: maps a per-channel scale vector of the input to that of the output
            (identity for pooling and padding; tiling for Flatten). ``None`` means identity.
        bound: For ``neuron``: the upper clip of a clipped ReLU (``ReLU(max_value=m)``, ``relu6``), else None.
        layout: For ``linear``: one of ``LAYOUTS`` (``"dense"`` unless the kernel is depthwise).
        pads: For ``linear``: whether the op pads its input with zeros (``padding="same"``/``"causal"``), so that
            an input offset cannot be folded into its bias exactly.
    """

    kind: str
    source: keras.layers.Layer
    make_layer: Callable[[str], keras.layers.Layer] | None = None
    make_spiking_layer: Callable[[str], keras.layers.Layer] | None = None
    kernel: np.ndarray | None = None
    bias: np.ndarray | None = None
    scale: np.ndarray | None = None
    offset: np.ndarray | None = None
    map_scale: Callable[[np.ndarray], np.ndarray] | None = None
    bound: float | None = None
    layout: str = "dense"
    pads: bool = False


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


def scale_outputs(kernel: np.ndarray, factor, layout: str = "dense") -> np.ndarray:
    """Multiplies each output channel of a linear kernel by ``factor`` (a scalar or one value per output channel).

    Examples:
        >>> depthwise = np.ones((1, 1, 2, 2))  # 2 input channels, depth multiplier 2: 4 output channels
        >>> scale_outputs(depthwise, np.array([1.0, 2.0, 3.0, 4.0]), "depthwise")[0, 0].tolist()
        [[1.0, 2.0], [3.0, 4.0]]
    """
    factor = np.asarray(factor, dtype="float64") if not isinstance(factor, np.ndarray) else factor
    if layout == "depthwise" and factor.ndim:
        return kernel * factor.reshape(kernel.shape[-2:])
    return kernel * factor


def divide_outputs(kernel: np.ndarray, divisor, layout: str = "dense") -> np.ndarray:
    """Divides each output channel of a linear kernel by ``divisor`` (a scalar or one value per output channel).

    Examples:
        >>> divide_outputs(np.ones((1, 1, 2, 1)), np.array([2.0, 4.0]), "depthwise")[0, 0].tolist()
        [[0.5], [0.25]]
    """
    if layout == "depthwise" and np.ndim(divisor):
        return kernel / np.asarray(divisor).reshape(kernel.shape[-2:])
    return kernel / divisor


def input_offset_current(kernel: np.ndarray, offset: np.ndarray, layout: str = "dense") -> np.ndarray:
    """The per-output-channel current a constant per-input-channel ``offset`` drives through ``kernel``.

    This is the bias a linear op gains when the affine map ``x·scale + offset`` before it is folded into it
    (exact when the op does not pad its input).

    Examples:
        >>> kernel = np.ones((3, 3, 2, 4))  # a 3×3 conv from 2 to 4 channels
        >>> input_offset_current(kernel, np.array([1.0, 0.5])).tolist()
        [13.5, 13.5, 13.5, 13.5]
    """
    if layout == "depthwise":
        return (kernel * offset[:, None]).sum(axis=tuple(range(kernel.ndim - 2))).reshape(-1)
    return (kernel * offset[:, None]).sum(axis=tuple(range(kernel.ndim - 1)))
