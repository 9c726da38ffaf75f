"""One read of a converted spiking model's structure, shared by the simulator, the closed form and the metrics.

:func:`spiking_network` walks the Keras graph once (with :func:`spkeras.graph.model_graph`) and classifies every
layer by its *role*:

- ``"input"``: the model input;
- ``"neuron"``: a spiking layer (an :class:`~spkeras.layers.IntegrateAndFire`, or any layer whose class sets
  ``spiking_neuron = True``, such as the SpKeras-compatible closed-form layer);
- ``"temporal"``: a layer that carries state across time steps but emits no spikes of its own (any layer whose
  class sets ``temporal_state = True``, such as :class:`~spkeras.layers.SpikingMaxPooling2D`);
- ``"synaptic"``: a layer with a kernel whose output is a weighted sum of its inputs (Conv1D, Conv2D,
  DepthwiseConv2D, SeparableConv2D, Dense);
- ``"other"``: everything else (pooling, padding, flatten, merges, per-channel affine maps).

The result is cached per model, so repeated simulations, estimates and metrics do not re-walk the graph.
"""

from __future__ import annotations

import dataclasses
import weakref
from collections.abc import Callable

import keras
import numpy as np

from spkeras import graph

ROLES = ("input", "neuron", "temporal", "synaptic", "other")
SYNAPTIC_LAYERS = (
    keras.layers.Conv2D,
    keras.layers.Dense,
    keras.layers.Conv1D,
    keras.layers.DepthwiseConv2D,
    keras.layers.SeparableConv2D,
)

_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def role_of(layer: keras.layers.Layer) -> str:
    """The role of one layer (see the module docstring).

    Examples:
        >>> import keras
        >>> role_of(keras.layers.Dense(3)), role_of(keras.layers.Flatten())
        ('synaptic', 'other')
    """
    if isinstance(layer, keras.layers.InputLayer):
        return "input"
    if getattr(layer, "spiking_neuron", False):
        return "neuron"
    if getattr(layer, "temporal_state", False):
        return "temporal"
    if isinstance(layer, SYNAPTIC_LAYERS):
        return "synaptic"
    return "other"


@dataclasses.dataclass(frozen=True)
class NetworkNode:
    """One layer of a spiking network with its connections and role.

    Attributes:
        layer: The live Keras layer.
        inputs: Positions of the nodes feeding it, in call order.
        readers: Positions of the nodes reading its output.
        role: One of ``ROLES``.
    """

    layer: keras.layers.Layer
    inputs: tuple[int, ...]
    readers: tuple[int, ...]
    role: str


@dataclasses.dataclass(frozen=True)
class SpikingNetwork:
    """The nodes of a model in topological order (element 0 is the input, the last one the output).

    Attributes:
        name: The model's name.
        nodes: The :class:`NetworkNode` list.
        neuron_positions: Positions of the ``"neuron"`` nodes, in network order.
        temporal_positions: Positions of the ``"temporal"`` nodes (stateful, non-spiking), in network order.
    """

    name: str
    nodes: tuple[NetworkNode, ...]
    neuron_positions: tuple[int, ...]
    temporal_positions: tuple[int, ...] = ()

    @property
    def neuron_layers(self) -> list[keras.layers.Layer]:
        """The spiking layers, in network order."""
        return [self.nodes[i].layer for i in self.neuron_positions]

    @property
    def output_position(self) -> int:
        """Position of the output node."""
        return len(self.nodes) - 1

    def forward(self, x, neuron: Callable, values: dict | None = None) -> dict:
        """Evaluates the network once, calling ``neuron(layer, current)`` for each spiking layer.

        Args:
            x: The input tensor.
            neuron: Returns the value a spiking layer sends on, given its input current.
            values: Values already known by position (they are not recomputed).

        Returns:
            The value of every node by position.
        """
        values = {0: x} if values is None else dict(values)
        for position, node in enumerate(self.nodes):
            if position in values:
                continue
            arguments = [values[i] for i in node.inputs]
            if node.role == "neuron":
                values[position] = neuron(node.layer, arguments[0])
            else:
                values[position] = graph.call_layer(node.layer, arguments)
        return values

    def downstream_synapses(self, position: int) -> list[keras.layers.Layer]:
        """The synaptic layers that a node's output reaches through non-synaptic, non-spiking layers."""
        found, stack = [], list(self.nodes[position].readers)
        while stack:
            node = self.nodes[stack.pop()]
            if node.role == "synaptic":
                found.append(node.layer)
            elif node.role != "neuron":
                stack.extend(node.readers)
        return found


def spiking_network(model: keras.Model) -> SpikingNetwork:
    """Returns the (cached) :class:`SpikingNetwork` of ``model``.

    Examples:
        >>> import keras
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
        >>> [node.role for node in spiking_network(model).nodes]
        ['input', 'synaptic']
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"`snn` must be a converted keras.Model. Received: {type(model).__name__}.")
    cached = _CACHE.get(model)
    if cached is not None:
        return cached
    graph_nodes = graph.model_graph(model)
    readers: list[list[int]] = [[] for _ in graph_nodes]
    for position, node in enumerate(graph_nodes):
        for source in node.inputs:
            readers[source].append(position)
    nodes = tuple(
        NetworkNode(
            layer=node.layer,
            inputs=node.inputs,
            readers=tuple(readers[position]),
            role="input" if position == 0 else role_of(node.layer),
        )
        for position, node in enumerate(graph_nodes)
    )
    network = SpikingNetwork(
        name=model.name,
        nodes=nodes,
        neuron_positions=tuple(i for i, node in enumerate(nodes) if node.role == "neuron"),
        temporal_positions=tuple(i for i, node in enumerate(nodes) if node.role == "temporal"),
    )
    _CACHE[model] = network
    return network


def elements(shape) -> int:
    """Number of values per sample of a tensor shape ``(batch, ...)``."""
    return int(np.prod([d for d in shape[1:]]))


def fan_in(layer: keras.layers.Layer) -> float:
    """Multiply-accumulates per output value of a synaptic layer.

    kh·kw·C_in for Conv2D (k·C_in for Conv1D, the inputs for Dense); kh·kw for DepthwiseConv2D (each output
    channel reads one input channel); for SeparableConv2D, its depthwise and pointwise MACs per output value,
    ``kh·kw·C·M / F + C·M`` (F filters, depth multiplier M), so that output values × fan-in counts both.

    Examples:
        >>> import keras
        >>> conv = keras.layers.Conv2D(8, 3)
        >>> conv.build((None, 10, 10, 4))
        >>> depthwise = keras.layers.DepthwiseConv2D(3, depth_multiplier=2)
        >>> depthwise.build((None, 10, 10, 4))
        >>> fan_in(conv), fan_in(depthwise)
        (36, 9)
    """
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        return int(np.prod(tuple(layer.kernel.shape)[:-2]))
    if isinstance(layer, keras.layers.SeparableConv2D):
        *window, channels, multiplier = (int(d) for d in layer.depthwise_kernel.shape)
        filters = int(layer.pointwise_kernel.shape[-1])
        return float(np.prod(window)) * channels * multiplier / filters + channels * multiplier
    return int(np.prod(tuple(layer.kernel.shape)[:-1]))
