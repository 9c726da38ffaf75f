"""Turn a live Keras model into the converter's intermediate representation (see :mod:`spkeras.conversion.ir`)."""

from __future__ import annotations

import keras

from spkeras import graph
from spkeras.conversion import converters  # noqa: F401  (the built-in converters, registered by this import)
from spkeras.conversion.ir import Node, Step
from spkeras.conversion.registry import ConversionContext, find_converter
from spkeras.errors import UnsupportedLayerError


def _converter_for(layer):
    """The registered converter of ``layer``; a raw ``keras.ops`` call in a functional graph gets its own reason."""
    if not isinstance(layer, keras.layers.Layer):
        module = type(layer).__module__.replace("keras.src.", "keras.")
        raise UnsupportedLayerError(
            layer,
            f"this is a raw {module} operation in the functional graph (e.g. `x + y` or keras.ops.*), not a layer, "
            "and has no converter. Use the equivalent layer (keras.layers.Add, keras.layers.ReLU, ...).",
        )
    return find_converter(layer)


def layer_report(model: keras.Model, max_pooling: str = "spiking") -> list[tuple[str, str, str | None]]:
    """Says for every layer of ``model`` whether it converts, and why not if it does not.

    Args:
        model: A built Keras model.
        max_pooling: The ``MaxPooling2D`` policy, as in :func:`spkeras.convert`.

    Returns:
        A list of ``(layer name, layer type, reason)`` with ``reason=None`` for layers that convert.

    Examples:
        >>> import keras
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="tanh", name="dense")])
        >>> layer_report(model)[0][:2]
        ('dense', 'Dense')
    """
    report = []
    for node in graph.model_graph(model)[1:]:
        context = ConversionContext(is_output=node.is_output, max_pooling=max_pooling)
        try:
            _converter_for(node.layer)(node.layer, context)
            reason = None
        except UnsupportedLayerError as error:
            reason = error.reason
        report.append((node.layer.name, type(node.layer).__name__, reason))
    return report


def lower_model(model: keras.Model, max_pooling: str = "spiking") -> list[Node]:
    """Converts every layer of ``model`` into IR nodes, in topological order.

    All layers are checked before anything is returned; if several cannot be converted, the error lists
    each of them.

    Raises:
        UnsupportedLayerError: If layers cannot be converted (the message names each such layer and why).

    Examples:
        >>> import keras
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu")])
        >>> [node.kind for node in lower_model(model)]
        ['input', 'linear', 'neuron']
    """
    nodes: list[Node] = []
    output_of: dict[int, int] = {}
    problems: list[UnsupportedLayerError] = []
    graph_nodes = graph.model_graph(model)
    for index, graph_node in enumerate(graph_nodes):
        layer = graph_node.layer
        if index == 0:
            nodes.append(Node(kind="input", source=layer))
            output_of[0] = 0
            continue
        context = ConversionContext(is_output=graph_node.is_output, max_pooling=max_pooling)
        try:
            steps: list[Step] = _converter_for(layer)(layer, context)
        except UnsupportedLayerError as error:
            problems.append(error)
            continue
        if any(source not in output_of for source in graph_node.inputs):
            continue  # fed by a refused layer; already reported
        inputs = tuple(output_of[source] for source in graph_node.inputs)
        if len(inputs) != 1 and not (steps and steps[0].kind == "merge"):
            problems.append(
                UnsupportedLayerError(layer, f"layers with {len(inputs)} inputs are not supported in this version.")
            )
            continue
        if not steps:
            output_of[index] = inputs[0]
            continue
        for step in steps:
            nodes.append(Node(**vars(step), inputs=inputs))
            inputs = (len(nodes) - 1,)
        output_of[index] = len(nodes) - 1
    if problems:
        raise UnsupportedLayerError.combine(problems, model.name)
    heads = sorted((node.output_slot, index) for index, node in enumerate(graph_nodes) if node.is_output)
    if len(heads) > 1:
        nodes.append(_joined_heads(graph_nodes, heads, output_of))
    output_index = len(nodes) - 1 if len(heads) > 1 else output_of[heads[0][1]]
    if output_index != len(nodes) - 1:
        nodes = _prune(nodes, output_index)
    return nodes


# The layer that joins the heads of a multi-output model into the spiking network's one output (see predict).
JOINED_HEADS = "spkeras_heads"


def _joined_heads(graph_nodes, heads, output_of) -> Node:
    """A Concatenate of the model's output heads (each ``(batch, units)``): the SNN has one output tensor."""
    for _, index in heads:
        layer = graph_nodes[index].layer
        if len(layer.output.shape) != 2:
            raise UnsupportedLayerError(
                layer,
                f"a multi-output model converts when every output is (batch, units). Received: output shape "
                f"{tuple(layer.output.shape)}. Flatten the head, or convert a model with this output only.",
            )
    joined = keras.layers.Concatenate(axis=-1, name=JOINED_HEADS)
    (step,) = find_converter(joined)(joined, ConversionContext())  # the registered Concatenate converter
    return Node(**vars(step), inputs=tuple(output_of[index] for _, index in heads))


def output_heads(model: keras.Model) -> list[tuple[str, int]]:
    """Per model output, in order: the activation the readout applies (``"softmax"``, ``"sigmoid"`` or
    ``"linear"``) and the number of units.

    Examples:
        >>> import keras
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
        >>> output_heads(model)
        [('softmax', 3)]
    """
    heads = sorted((node.output_slot, node.layer) for node in graph.model_graph(model) if node.is_output)
    return [(_activation_name(layer), int(layer.output.shape[-1])) for _, layer in heads]


def _activation_name(layer) -> str:
    if isinstance(layer, keras.layers.Softmax):
        return "softmax"
    activation = getattr(layer, "activation", None)
    for name in ("softmax", "sigmoid"):
        if activation is keras.activations.get(name):
            return name
    return "linear"


def _prune(nodes: list[Node], output_index: int) -> list[Node]:
    """Keeps only the nodes the output depends on, with their indices remapped."""
    needed = set()
    stack = [output_index]
    while stack:
        index = stack.pop()
        if index not in needed:
            needed.add(index)
            stack.extend(nodes[index].inputs)
    keep = sorted(needed)
    new_index = {old: new for new, old in enumerate(keep)}
    pruned = []
    for old in keep:
        node = nodes[old]
        node.inputs = tuple(new_index[source] for source in node.inputs)
        pruned.append(node)
    return pruned
