"""Read the structure of a live Keras model: its layers in topological order and who feeds whom.

Only public Keras attributes are used (``model.layers``, ``layer.input``, ``layer.output``), never layer
names or JSON configs, so renamed layers and nested naming schemes do not matter.
"""

from __future__ import annotations

import dataclasses

import keras

from spkeras.errors import UnsupportedLayerError


@dataclasses.dataclass(frozen=True)
class GraphNode:
    """One layer of a model together with the layers that feed it.

    Attributes:
        layer: The live Keras layer.
        inputs: Indices (into the list returned by :func:`model_graph`) of the nodes feeding this layer,
            in the order the layer receives them. Empty for the input layer.
        is_output: Whether this layer's output is the model's output.
    """

    layer: keras.layers.Layer
    inputs: tuple[int, ...]
    is_output: bool


def _as_list(tensors):
    if tensors is None:
        return []
    if isinstance(tensors, (list, tuple)):
        return list(tensors)
    if isinstance(tensors, dict):
        return list(tensors.values())
    return [tensors]


def model_graph(model: keras.Model) -> list[GraphNode]:
    """Returns the layers of ``model`` in topological order with their connections.

    Sequential models are read as a chain. Functional models are read from the Keras tensors that connect
    their layers. Models with several inputs or outputs, nested models and shared layers (one layer called
    more than once) are refused, because a spiking network needs one well-defined tensor per layer.

    Args:
        model: A built ``keras.Sequential`` or functional ``keras.Model``.

    Returns:
        A list of :class:`GraphNode`; element 0 is the input layer.

    Raises:
        TypeError: If ``model`` is not a Keras model.
        ValueError: If the model is not built, or has a structure spkeras cannot convert.
        UnsupportedLayerError: If it nests models.

    Examples:
        >>> import keras
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
        >>> [type(node.layer).__name__ for node in model_graph(model)]
        ['InputLayer', 'Dense']
    """
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"Expected a keras.Model (Sequential or functional). Received: {type(model).__name__}. "
            "Load a file first with spkeras.load_model(path)."
        )
    if not model.built:
        raise ValueError(
            f"Model '{model.name}' is not built. Received a model without input shape. "
            "Build it first, e.g. model.build((None, 28, 28, 1)) or start it with keras.Input(...)."
        )
    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    if nested:
        raise UnsupportedLayerError.combine(
            [
                UnsupportedLayerError(
                    layer,
                    "nested models are not supported. Received a model containing a sub-model. "
                    "Flatten it into one functional model.",
                )
                for layer in nested
            ],
            model.name,
        )
    if isinstance(model, keras.Sequential):
        return _sequential_graph(model)
    return _functional_graph(model)


def _input_node(model: keras.Model) -> GraphNode:
    inputs = _as_list(model.inputs)
    if len(inputs) != 1:
        raise ValueError(
            f"Model '{model.name}' has {len(inputs)} inputs; spkeras converts single-input models. "
            "Received a multi-input model."
        )
    return GraphNode(layer=keras.layers.InputLayer(shape=tuple(inputs[0].shape[1:])), inputs=(), is_output=False)


def _sequential_graph(model: keras.Sequential) -> list[GraphNode]:
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    nodes = [_input_node(model)]
    for index, layer in enumerate(layers):
        nodes.append(GraphNode(layer=layer, inputs=(index,), is_output=index == len(layers) - 1))
    return nodes


def _functional_graph(model: keras.Model) -> list[GraphNode]:
    outputs = _as_list(model.outputs)
    if len(outputs) != 1:
        raise ValueError(
            f"Model '{model.name}' has {len(outputs)} outputs; spkeras converts single-output classifiers. "
            "Received a multi-output model. Build a model with one output tensor."
        )
    inputs = _as_list(model.inputs)
    if len(inputs) != 1:
        raise ValueError(
            f"Model '{model.name}' has {len(inputs)} inputs; spkeras converts single-input models. "
            "Received a multi-input model."
        )
    producer: dict[int, keras.layers.Layer] = {id(layer.output): layer for layer in model.layers}
    input_layers = [layer for layer in model.layers if isinstance(layer, keras.layers.InputLayer)]
    if len(input_layers) != 1:
        raise ValueError(
            f"Model '{model.name}' has {len(input_layers)} input layers; spkeras converts single-input models."
        )
    feeds: dict[int, list[keras.layers.Layer]] = {}
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        sources = []
        for tensor in _as_list(layer.input):
            source = producer.get(id(tensor))
            if source is None:
                raise ValueError(
                    f"Cannot find which layer feeds '{layer.name}' ({type(layer).__name__}). Received a "
                    "model with a shared layer (one layer called more than once) or a graph that is not a "
                    "plain functional graph. Give each call its own layer and rebuild with the functional API."
                )
            sources.append(source)
        feeds[id(layer)] = sources
    # Topological order (Kahn), input layer first; ties keep Keras's own layer order.
    output_layer = producer.get(id(outputs[0]))
    nodes = [GraphNode(layer=input_layers[0], inputs=(), is_output=False)]
    position = {id(input_layers[0]): 0}
    remaining = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    while remaining:
        ready = [layer for layer in remaining if all(id(source) in position for source in feeds[id(layer)])]
        if not ready:
            names = ", ".join(layer.name for layer in remaining)
            raise ValueError(f"The layers {names} are not connected to the model input. Received a broken graph.")
        for layer in ready:
            position[id(layer)] = len(nodes)
            nodes.append(
                GraphNode(
                    layer=layer,
                    inputs=tuple(position[id(source)] for source in feeds[id(layer)]),
                    is_output=layer is output_layer,
                )
            )
            remaining.remove(layer)
    return nodes


def call_layer(layer: keras.layers.Layer, arguments: list):
    """Calls ``layer`` on one tensor, or on a list of tensors for merge layers (Add, Concatenate)."""
    return layer(arguments if len(arguments) > 1 else arguments[0])
