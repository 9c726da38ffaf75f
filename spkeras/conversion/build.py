"""Build a new functional Keras model from IR nodes (the folded ANN for calibration, or the SNN)."""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np

from spkeras.conversion.ir import Node
from spkeras.network import SYNAPTIC_LAYERS


class _Names:
    def __init__(self):
        self.used: set[str] = set()

    def unique(self, base: str) -> str:
        name, counter = base, 1
        while name in self.used:
            counter += 1
            name = f"{base}_{counter}"
        self.used.add(name)
        return name


def build_model(
    nodes: list[Node],
    name: str,
    make_neuron: Callable[[int, Node, str], keras.layers.Layer],
    linear_weights: Callable[[int, Node], tuple[np.ndarray, np.ndarray]] | None = None,
    neuron_suffix: str = "spiking",
    spiking: bool = False,
) -> tuple[keras.Model, dict[int, keras.layers.Layer]]:
    """Instantiates the IR as a new functional ``keras.Model``.

    Args:
        nodes: IR nodes in topological order; the last one is the output.
        name: Name of the new model.
        make_neuron: ``make_neuron(index, node, layer_name)`` returns the layer for a neuron site.
        linear_weights: ``linear_weights(index, node)`` returns ``(kernel, bias)`` for a linear node;
            defaults to the node's own kernel and bias.
        neuron_suffix: Suffix for neuron layers named after a convolution or Dense whose activation they replace.
        spiking: Build the spiking form of structural steps that have one (``Step.make_spiking_layer``).

    Returns:
        ``(model, layers)`` where ``layers`` maps a node index to the new layer built for it.
    """
    names = _Names()
    tensors: dict[int, keras.KerasTensor] = {}
    built: dict[int, keras.layers.Layer] = {}
    for index, node in enumerate(nodes):
        if node.kind == "input":
            shape = tuple(node.source.output.shape[1:]) if hasattr(node.source, "output") else None
            tensors[index] = keras.Input(shape=shape, name=names.unique(node.name))
            continue
        inputs = [tensors[i] for i in node.inputs]
        inputs = inputs if node.kind == "merge" else inputs[0]
        if node.kind == "neuron":
            base = node.name
            if node.source is not None and node.kind == "neuron" and _is_linear_source(node):
                base = f"{node.name}_{neuron_suffix}"
            layer = make_neuron(index, node, names.unique(base))
            tensors[index] = layer(inputs)
        elif node.kind in ("linear", "affine", "structural", "merge"):
            factory = node.make_spiking_layer if spiking and node.make_spiking_layer is not None else node.make_layer
            layer = factory(names.unique(node.name))
            tensors[index] = layer(inputs)
            if node.kind == "linear":
                kernel, bias = linear_weights(index, node) if linear_weights else (node.kernel, node.bias)
                layer.set_weights([np.asarray(kernel, "float32"), np.asarray(bias, "float32")])
            elif node.kind == "affine":
                scale, offset = linear_weights(index, node) if linear_weights else (node.scale, node.offset)
                layer.set_weights([np.asarray(scale, "float32"), np.asarray(offset, "float32")])
        else:
            raise ValueError(f"Cannot build IR node '{node.name}' of kind {node.kind!r}; fold batch norms first.")
        built[index] = layer
    model = keras.Model(tensors[0], tensors[len(nodes) - 1], name=name)
    return model, built


def _is_linear_source(node: Node) -> bool:
    return isinstance(node.source, SYNAPTIC_LAYERS)


def build_folded_ann(nodes: list[Node], name: str) -> tuple[keras.Model, dict[int, keras.layers.Layer]]:
    """Builds the ANN with batch norms folded (ReLU, or the source's exact activation, at every neuron site)."""

    def make_relu(index, node, layer_name):
        # A source activation that knows its exact ANN form (e.g. QCFS's quantised clip) keeps it.
        exact = getattr(node.source, "ann_activation", None)
        if callable(exact):
            return exact(layer_name)
        return keras.layers.ReLU(max_value=node.bound, name=layer_name)

    return build_model(nodes, name, make_relu, None, "relu")


def build_snn(nodes: list[Node], site_scales: dict, settings, transform, name: str):
    """Builds the spiking network for the given per-site scales.

    Args:
        nodes: Folded IR nodes.
        site_scales: λ per neuron node index (positive, scalar or per channel).
        settings: The :class:`~spkeras.layers.NeuronSettings` every neuron layer is built with.
        transform: The method's :class:`~spkeras.methods.WeightTransform` (or ``None``).
        name: Name of the new model.

    Returns:
        ``(model, layers)`` as :func:`build_model`.

    Examples:
        >>> import keras, numpy as np
        >>> from spkeras.conversion.lower import lower_model
        >>> from spkeras.layers import IntegrateAndFire, NeuronSettings
        >>> nodes = lower_model(keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, activation="relu")]))
        >>> snn, layers = build_snn(nodes, {2: np.float64(4.0)}, NeuronSettings(IntegrateAndFire), None, "snn")
        >>> [type(layer).__name__ for layer in snn.layers]
        ['InputLayer', 'Dense', 'IntegrateAndFire']
    """
    from spkeras.conversion.scaling import plan_snn

    weights, thresholds, _ = plan_snn(nodes, site_scales, spike_value=settings.spike_value, transform=transform)
    return build_model(
        nodes,
        name,
        lambda index, node, layer_name: settings.make(thresholds[index], layer_name),
        lambda index, node: weights[index],
        spiking=True,
    )
