"""Read the structure of a live Keras model: its layers in topological order and who feeds whom.

Only public Keras attributes are used (``model.layers``, ``layer.input``, ``layer.output``), never layer
names or JSON configs, so renamed layers and nested naming schemes do not matter.
"""

from __future__ import annotations

import dataclasses

import keras


@dataclasses.dataclass(frozen=True)
class GraphNode:
    """One layer of a model together with the layers that feed it.

    Attributes:
        layer: The live Keras layer (or a raw ``keras.ops`` operation of a functional graph, such as ``x + y``,
            which no converter accepts).
        inputs: Indices (into the list returned by :func:`model_graph`) of the nodes feeding this layer,
            in the order the layer receives them. Empty for the input layer.
        is_output: Whether this layer's output is one of the model's outputs.
        output_slot: Its position in ``model.outputs`` when it is an output, else None.
    """

    layer: keras.layers.Layer
    inputs: tuple[int, ...]
    is_output: bool
    output_slot: int | None = None


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
    their layers. A model used as a layer (a Sequential or functional model nested in another, at any depth)
    is flattened: its own layers take its place, wired to what feeds it and to what reads it, so the result
    only holds ordinary layers. A functional model may have several outputs (each output node gets its
    ``output_slot``); models with several inputs, nested models with several outputs and shared layers (one
    layer called more than once) are refused, because a spiking network needs one well-defined tensor per layer.

    Args:
        model: A built ``keras.Sequential`` or functional ``keras.Model``.

    Returns:
        A list of :class:`GraphNode`; element 0 is the input layer.

    Raises:
        TypeError: If ``model`` is not a Keras model.
        ValueError: If the model is not built, or has a structure spkeras cannot convert.

    Examples:
        >>> import keras
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
        >>> [type(node.layer).__name__ for node in model_graph(model)]
        ['InputLayer', 'Dense']
        >>> block = keras.Sequential([keras.layers.Dense(3), keras.layers.ReLU()], name="block")
        >>> nested = keras.Sequential([keras.Input((4,)), block, keras.layers.Dense(2)])
        >>> [(type(node.layer).__name__, node.inputs) for node in model_graph(nested)]
        [('InputLayer', ()), ('Dense', (0,)), ('ReLU', (1,)), ('Dense', (2,))]
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
    if isinstance(model, keras.Sequential):
        input_node = _input_node(model)
    else:
        _single_input(model)
        input_layers = [layer for layer in model.layers if isinstance(layer, keras.layers.InputLayer)]
        if len(input_layers) != 1:
            raise ValueError(
                f"Model '{model.name}' has {len(input_layers)} input layers; spkeras converts single-input models."
            )
        input_node = GraphNode(layer=input_layers[0], inputs=(), is_output=False)
    nodes = [input_node]
    if isinstance(model, keras.Sequential):
        outputs = [_append_model(model, 0, nodes)]
    else:
        outputs = _append_functional(model, 0, nodes, every_output=True)
    if len(set(outputs)) != len(outputs):
        raise ValueError(
            f"Model '{model.name}' returns the same tensor as several outputs. Received: {len(outputs)} outputs "
            f"from {len(set(outputs))} layers. Return each tensor once."
        )
    # The model's outputs, in the order of model.outputs (a nested model's output is the node of its last layer).
    for slot, position in enumerate(outputs):
        nodes[position] = dataclasses.replace(nodes[position], is_output=True, output_slot=slot)
    return nodes


def _single_input_output(model: keras.Model) -> None:
    outputs = _as_list(model.outputs)
    if len(outputs) != 1:
        raise ValueError(
            f"The nested model '{model.name}' has {len(outputs)} outputs; spkeras flattens nested models with one "
            "output. Received a multi-output sub-model. Return its outputs from the outer model instead."
        )
    _single_input(model)


def _single_input(model: keras.Model) -> None:
    inputs = _as_list(model.inputs)
    if len(inputs) != 1:
        raise ValueError(
            f"Model '{model.name}' has {len(inputs)} inputs; spkeras converts single-input models. "
            "Received a multi-input model."
        )


def _input_node(model: keras.Model) -> GraphNode:
    inputs = _as_list(model.inputs)
    if len(inputs) != 1:
        raise ValueError(
            f"Model '{model.name}' has {len(inputs)} inputs; spkeras converts single-input models. "
            "Received a multi-input model."
        )
    return GraphNode(layer=keras.layers.InputLayer(shape=tuple(inputs[0].shape[1:])), inputs=(), is_output=False)


def _append(nodes: list[GraphNode], layer, inputs: tuple[int, ...]) -> int:
    nodes.append(GraphNode(layer=layer, inputs=inputs, is_output=False))
    return len(nodes) - 1


def _append_layer(layer, inputs: tuple[int, ...], nodes: list[GraphNode]) -> int:
    """Appends one layer (or, for a nested model, all its layers); returns the position of its output node."""
    if not isinstance(layer, keras.Model):
        return _append(nodes, layer, inputs)
    if len(inputs) != 1:
        raise ValueError(
            f"The nested model '{layer.name}' is called on {len(inputs)} tensors; spkeras flattens nested models "
            "with one input. Received a multi-input sub-model. Rebuild it as part of one functional model."
        )
    if not isinstance(layer, keras.Sequential):
        _single_input_output(layer)
    return _append_model(layer, inputs[0], nodes)


def _append_model(model: keras.Model, source: int, nodes: list[GraphNode]) -> int:
    """Appends the layers of ``model`` fed by node ``source``; returns the position of the model's output."""
    if isinstance(model, keras.Sequential):
        current = source
        for layer in model.layers:
            if not isinstance(layer, keras.layers.InputLayer):
                current = _append_layer(layer, (current,), nodes)
        return current
    return _append_functional(model, source, nodes)


def _call_tensors(layer, model: keras.Model) -> tuple[list, list]:
    """The input and output tensors of ``layer``'s one call inside ``model``'s graph."""
    if not isinstance(layer, keras.Model):
        return _as_list(layer.input), _as_list(layer.output)
    # A model used as a layer: its ``input``/``output`` name its own graph's tensors, not those of the call in
    # the enclosing graph, so read that call's node (Keras records one node per call).
    calls = getattr(layer, "_inbound_nodes", [])
    if len(calls) != 1:
        raise ValueError(
            f"The nested model '{layer.name}' is called {len(calls)} times in model '{model.name}'; spkeras "
            "flattens nested models called once. Received a shared sub-model. Give each call its own sub-model."
        )
    return _as_list(calls[0].input_tensors), _as_list(calls[0].output_tensors)


def _append_functional(model: keras.Model, source: int, nodes: list[GraphNode], every_output: bool = False):
    """Appends a functional model's layers; returns its output's position (every output's, with ``every_output``)."""
    # ``operations`` are the layers plus raw ``keras.ops`` calls (``x + y``) in the graph, in Keras's order; the
    # latter are kept as nodes so that the converter can name them when it refuses them.
    members = list(getattr(model, "operations", model.layers))
    layers = [layer for layer in members if not isinstance(layer, keras.layers.InputLayer)]
    input_layers = [layer for layer in members if isinstance(layer, keras.layers.InputLayer)]
    if len(input_layers) != 1:
        raise ValueError(
            f"Model '{model.name}' has {len(input_layers)} input layers; spkeras converts single-input models."
        )
    calls = {id(layer): _call_tensors(layer, model) for layer in layers}
    producer: dict[int, int] = {id(input_layers[0].output): -1}
    for layer in layers:
        outputs = calls[id(layer)][1]
        if len(outputs) != 1:
            raise ValueError(
                f"Layer '{layer.name}' ({type(layer).__name__}) has {len(outputs)} outputs; spkeras converts "
                "layers with one output tensor. Received a multi-output layer."
            )
        producer[id(outputs[0])] = id(layer)
    feeds: dict[int, list[int]] = {}
    for layer in layers:
        sources = []
        for tensor in calls[id(layer)][0]:
            if id(tensor) not in producer:
                raise ValueError(
                    f"Cannot find which layer feeds '{layer.name}' ({type(layer).__name__}). Received a "
                    "model with a shared layer (one layer called more than once) or a graph that is not a "
                    "plain functional graph. Give each call its own layer and rebuild with the functional API."
                )
            sources.append(producer[id(tensor)])
        feeds[id(layer)] = sources
    # Topological order (Kahn), input first; ties keep Keras's own layer order.
    position: dict[int, int] = {-1: source}
    remaining = list(layers)
    while remaining:
        ready = [layer for layer in remaining if all(s in position for s in feeds[id(layer)])]
        if not ready:
            names = ", ".join(layer.name for layer in remaining)
            raise ValueError(f"The layers {names} are not connected to the model input. Received a broken graph.")
        for layer in ready:
            inputs = tuple(position[s] for s in feeds[id(layer)])
            position[id(layer)] = _append_layer(layer, inputs, nodes)
            remaining.remove(layer)
    outputs = _as_list(model.outputs)
    if any(id(output) not in producer for output in outputs):
        raise ValueError(
            f"Cannot find which layer produces the output of model '{model.name}'. Received a model with a shared "
            "layer (one layer called more than once) at its output. Give each call its own layer and rebuild with "
            "the functional API."
        )
    found = [position[producer[id(output)]] for output in outputs]
    return found if every_output else found[0]


def call_layer(layer: keras.layers.Layer, arguments: list):
    """Calls ``layer`` on one tensor, or on a list of tensors for merge layers (Add, Concatenate)."""
    return layer(arguments if len(arguments) > 1 else arguments[0])
