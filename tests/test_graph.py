"""spkeras.graph: reading a live Keras model as layers in topological order with their feeders."""

import keras
import numpy as np
import pytest

from spkeras import graph
from tests.keras_session import _clean_keras_session  # noqa: F401  (no gc.collect per test)


def _chain_layers():
    return [
        keras.layers.Conv2D(3, 3, name="conv"),
        keras.layers.ReLU(name="relu"),
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(2, name="dense"),
    ]


def _summary(nodes):
    return [(node.layer.name, node.inputs, node.is_output) for node in nodes]


def test_sequential_is_read_as_a_chain():
    model = keras.Sequential([keras.Input((5, 5, 1)), *_chain_layers()])
    nodes = graph.model_graph(model)
    assert isinstance(nodes[0].layer, keras.layers.InputLayer)
    assert tuple(nodes[0].layer.output.shape) == (None, 5, 5, 1)
    assert _summary(nodes)[1:] == [
        ("conv", (0,), False),
        ("relu", (1,), False),
        ("flatten", (2,), False),
        ("dense", (3,), True),
    ]
    assert nodes[0].inputs == () and not nodes[0].is_output


def test_a_sequential_built_with_build_gets_an_input_node_of_that_shape():
    model = keras.Sequential([keras.layers.Dense(3, name="d1"), keras.layers.ReLU(name="r"), keras.layers.Dense(2)])
    model.build((None, 4))
    nodes = graph.model_graph(model)
    assert tuple(nodes[0].layer.output.shape) == (None, 4)
    assert [(node.layer.name, node.inputs, node.is_output) for node in nodes[1:]] == [
        ("d1", (0,), False),
        ("r", (1,), False),
        ("dense", (2,), True),
    ]


def test_functional_chain_gives_the_same_order_as_sequential():
    inputs = keras.Input((5, 5, 1), name="image")
    tensor = inputs
    for layer in _chain_layers():
        tensor = layer(tensor)
    nodes = graph.model_graph(keras.Model(inputs, tensor))
    assert _summary(nodes) == [
        ("image", (), False),
        ("conv", (0,), False),
        ("relu", (1,), False),
        ("flatten", (2,), False),
        ("dense", (3,), True),
    ]
    # A functional model's input node is the model's own input layer.
    assert nodes[0].layer is keras.Model(inputs, tensor).layers[0]


def test_residual_branches_point_at_their_feeders_in_call_order():
    inputs = keras.Input((6,), name="x")
    trunk = keras.layers.Dense(4, name="trunk")(inputs)
    relu = keras.layers.ReLU(name="relu")(trunk)
    branch = keras.layers.Dense(4, name="branch")(relu)
    merged = keras.layers.Add(name="add")([branch, trunk])  # skip connection from before the ReLU
    output = keras.layers.Dense(2, name="head")(merged)
    nodes = graph.model_graph(keras.Model(inputs, output))
    position = {node.layer.name: index for index, node in enumerate(nodes)}
    # Topological: every node comes after all of its feeders.
    for index, node in enumerate(nodes):
        assert all(source < index for source in node.inputs), node.layer.name
    assert nodes[position["add"]].inputs == (position["branch"], position["trunk"])
    assert nodes[position["branch"]].inputs == (position["relu"],)
    assert nodes[position["head"]].inputs == (position["add"],)
    assert [node.layer.name for node in nodes if node.is_output] == ["head"]


def test_concatenate_keeps_the_call_order_of_its_inputs():
    inputs = keras.Input((3,))
    first = keras.layers.Dense(2, name="first")(inputs)
    second = keras.layers.Dense(5, name="second")(inputs)
    merged = keras.layers.Concatenate(name="concat")([second, first])
    nodes = graph.model_graph(keras.Model(inputs, merged))
    position = {node.layer.name: index for index, node in enumerate(nodes)}
    assert nodes[position["concat"]].inputs == (position["second"], position["first"])
    assert nodes[-1].layer.name == "concat" and nodes[-1].is_output


def test_a_model_is_read_without_running_it():
    # The graph follows the model's connections, so the layer objects are the model's own.
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="d1"), keras.layers.Dense(2, name="d2")])
    nodes = graph.model_graph(model)
    assert [node.layer for node in nodes[1:]] == model.layers


def test_nested_models_are_flattened_in_place():
    block = keras.Sequential([keras.layers.Dense(3, name="inner_dense"), keras.layers.ReLU(name="inner_relu")])
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4, name="first"), block, keras.layers.Dense(2)])
    nodes = graph.model_graph(model)
    assert [(node.layer.name, node.inputs) for node in nodes[1:]] == [
        ("first", (0,)),
        ("inner_dense", (1,)),
        ("inner_relu", (2,)),
        ("dense", (3,)),
    ]
    assert not any(isinstance(node.layer, keras.Model) for node in nodes)
    assert [node.is_output for node in nodes] == [False, False, False, False, True]


def test_a_nested_functional_block_is_wired_to_its_feeder_and_reader():
    inner_input = keras.Input((4,))
    inner_trunk = keras.layers.Dense(4, name="inner_trunk")(inner_input)
    inner_add = keras.layers.Add(name="inner_add")([inner_trunk, inner_input])
    block = keras.Model(inner_input, inner_add, name="block")
    inputs = keras.Input((4,), name="x")
    tensor = keras.layers.ReLU(name="pre")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2, name="head")(block(tensor)))
    nodes = graph.model_graph(model)
    at = {node.layer.name: index for index, node in enumerate(nodes)}
    assert set(at) == {"x", "pre", "inner_trunk", "inner_add", "head"}
    assert nodes[at["inner_trunk"]].inputs == (at["pre"],)
    # The block's input is the outer ReLU, so the skip connection reads it.
    assert nodes[at["inner_add"]].inputs == (at["inner_trunk"], at["pre"])
    assert nodes[at["head"]].inputs == (at["inner_add"],)
    assert [node.layer.name for node in nodes if node.is_output] == ["head"]


def test_a_nested_model_at_the_output_marks_its_last_layer():
    block = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="last")], name="block")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="first"), block])
    nodes = graph.model_graph(model)
    assert [(node.layer.name, node.is_output) for node in nodes[1:]] == [("first", False), ("last", True)]


def test_a_sub_model_called_twice_is_refused():
    block = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4)], name="twice")
    inputs = keras.Input((4,))
    model = keras.Model(inputs, block(block(inputs)))
    with pytest.raises(ValueError, match="'twice' is called 2 times"):
        graph.model_graph(model)


def test_multi_input_models_are_refused():
    a, b = keras.Input((4,)), keras.Input((4,))
    model = keras.Model([a, b], keras.layers.Dense(2)(keras.layers.Add()([a, b])), name="two_in")
    with pytest.raises(ValueError, match="'two_in' has 2 inputs.*Received a multi-input model"):
        graph.model_graph(model)


def test_multi_output_models_mark_each_output_in_order():
    inputs = keras.Input((4,))
    first, second = keras.layers.Dense(2, name="first"), keras.layers.Dense(3, name="second")
    model = keras.Model(inputs, [second(inputs), first(inputs)], name="two_out")
    outputs = {node.layer.name: node.output_slot for node in graph.model_graph(model) if node.is_output}
    assert outputs == {"second": 0, "first": 1}


def test_a_nested_multi_output_model_and_a_repeated_output_are_refused():
    inputs = keras.Input((4,))
    inner = keras.Model(inputs, [keras.layers.Dense(2)(inputs), keras.layers.Dense(3)(inputs)], name="inner")
    outer_input = keras.Input((4,))
    outer = keras.Model(outer_input, keras.layers.Dense(1)(inner(outer_input)[0]), name="outer")
    with pytest.raises(ValueError, match="'inner' .*has 2 outputs"):
        graph.model_graph(outer)
    dense = keras.layers.Dense(2)(inputs)
    with pytest.raises(ValueError, match="same tensor as several outputs"):
        graph.model_graph(keras.Model(inputs, [dense, dense]))


def test_unbuilt_model_is_refused():
    model = keras.Sequential([keras.layers.Dense(2)], name="no_shape")
    with pytest.raises(ValueError, match="'no_shape' is not built.*model.build"):
        graph.model_graph(model)


def test_a_non_model_is_refused_with_a_type_error():
    with pytest.raises(TypeError, match="Received: Dense"):
        graph.model_graph(keras.layers.Dense(2))


def test_shared_layer_feeding_a_merge_is_refused():
    inputs = keras.Input((4,))
    shared = keras.layers.Dense(4, name="shared")
    merged = keras.layers.Add(name="add")([shared(inputs), shared(keras.layers.ReLU()(inputs))])
    with pytest.raises(ValueError, match="'add'.*shared layer"):
        graph.model_graph(keras.Model(inputs, merged))


def test_shared_layer_feeding_another_layer_is_refused():
    inputs = keras.Input((4,))
    shared = keras.layers.Dense(4, activation="relu", name="shared")
    output = keras.layers.Dense(2, name="head")(shared(shared(inputs)))
    with pytest.raises(ValueError, match="'head'.*shared layer"):
        graph.model_graph(keras.Model(inputs, output))


def test_shared_layer_at_the_output_is_refused():
    inputs = keras.Input((4,))
    shared = keras.layers.Dense(4, activation="relu", name="shared")
    model = keras.Model(inputs, shared(shared(inputs)))
    with pytest.raises(ValueError, match="shared layer"):
        graph.model_graph(model)


def test_call_layer_passes_one_tensor_or_a_list():
    x = np.array([[1.0, 2.0]], "float32")
    np.testing.assert_allclose(graph.call_layer(keras.layers.Add(), [x, x]), 2 * x)
    dense = keras.layers.Dense(1, kernel_initializer="ones", bias_initializer="zeros")
    np.testing.assert_allclose(graph.call_layer(dense, [x]), [[3.0]])
