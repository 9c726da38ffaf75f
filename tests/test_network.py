"""spkeras.network: roles, readers, one forward evaluation and the fan-out walk, shared by simulator and metrics."""

import keras
import numpy as np
import pytest

from spkeras import network
from spkeras.layers import ChannelAffine, IntegrateAndFire, SpikingMaxPooling2D
from tests.keras_session import _clean_keras_session  # noqa: F401  (no gc.collect per test)


def _spiking_cnn():
    """Input → Conv → IF → AvgPool → Flatten → Dense → IF → Dense (the output), with fixed random weights."""
    keras.utils.set_random_seed(3)
    inputs = keras.Input((6, 6, 2), name="image")
    tensor = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    tensor = IntegrateAndFire(threshold=0.5, name="if_conv")(tensor)
    tensor = keras.layers.AveragePooling2D(2, name="pool")(tensor)
    tensor = keras.layers.Flatten(name="flatten")(tensor)
    tensor = keras.layers.Dense(5, name="hidden")(tensor)
    tensor = IntegrateAndFire(threshold=1.0, name="if_hidden")(tensor)
    tensor = keras.layers.Dense(3, name="out")(tensor)
    return keras.Model(inputs, tensor, name="spiking_cnn")


def _positions(net):
    return {node.layer.name: index for index, node in enumerate(net.nodes)}


def test_roles_of_every_layer():
    net = network.spiking_network(_spiking_cnn())
    assert [(node.layer.name, node.role) for node in net.nodes] == [
        ("image", "input"),
        ("conv", "synaptic"),
        ("if_conv", "neuron"),
        ("pool", "other"),
        ("flatten", "other"),
        ("hidden", "synaptic"),
        ("if_hidden", "neuron"),
        ("out", "synaptic"),
    ]
    assert net.name == "spiking_cnn"
    assert net.neuron_positions == (2, 6)
    assert [layer.name for layer in net.neuron_layers] == ["if_conv", "if_hidden"]
    assert net.output_position == 7 and net.nodes[net.output_position].layer.name == "out"


def test_role_of_follows_the_spiking_neuron_marker_not_the_class():
    class Marked(keras.layers.Layer):
        spiking_neuron = True

    assert network.role_of(Marked()) == "neuron"
    assert network.role_of(IntegrateAndFire()) == "neuron"
    assert network.role_of(keras.layers.Conv2D(2, 1)) == "synaptic"
    assert network.role_of(keras.layers.Dense(2)) == "synaptic"
    assert network.role_of(ChannelAffine()) == "other"
    assert network.role_of(keras.layers.ReLU()) == "other"
    assert network.role_of(keras.layers.InputLayer(shape=(2,))) == "input"
    assert network.role_of(SpikingMaxPooling2D(2)) == "temporal"
    assert set(network.ROLES) == {"input", "neuron", "temporal", "synaptic", "other"}


def test_readers_are_the_inverse_of_inputs():
    inputs = keras.Input((4,), name="x")
    trunk = keras.layers.Dense(4, name="trunk")(inputs)
    spikes = IntegrateAndFire(name="if_trunk")(trunk)
    branch = keras.layers.Dense(4, name="branch")(spikes)
    merged = keras.layers.Add(name="add")([branch, spikes])
    model = keras.Model(inputs, keras.layers.Dense(2, name="head")(merged))
    net = network.spiking_network(model)
    at = _positions(net)
    assert net.nodes[at["if_trunk"]].readers == (at["branch"], at["add"])
    assert net.nodes[at["add"]].inputs == (at["branch"], at["if_trunk"])
    assert net.nodes[at["head"]].readers == ()
    for position, node in enumerate(net.nodes):
        for source in node.inputs:
            assert position in net.nodes[source].readers


def test_forward_calls_the_neuron_function_on_each_spiking_layer():
    model = _spiking_cnn()
    net = network.spiking_network(model)
    x = np.random.default_rng(0).uniform(0, 1, (3, 6, 6, 2)).astype("float32")
    seen = []

    def relu(layer, current):
        seen.append(layer.name)
        return keras.ops.relu(current)

    values = net.forward(x, relu)
    assert seen == ["if_conv", "if_hidden"]
    assert sorted(values) == list(range(len(net.nodes)))
    # Same as the ANN with ReLU in place of each neuron layer, evaluated by hand.
    layers = {layer.name: layer for layer in model.layers}
    expected = np.maximum(layers["conv"](x), 0)
    expected = layers["flatten"](layers["pool"](expected))
    expected = layers["out"](np.maximum(layers["hidden"](expected), 0))
    np.testing.assert_allclose(values[net.output_position], expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(values[1], layers["conv"](x), rtol=1e-5, atol=1e-6)


def test_forward_does_not_recompute_known_values():
    model = _spiking_cnn()
    net = network.spiking_network(model)
    x = np.zeros((2, 6, 6, 2), "float32")
    hidden_current = np.full((2, 5), 2.0, "float32")
    known = {0: x, net.neuron_positions[1] - 1: hidden_current}
    calls = []

    def identity(layer, current):
        calls.append(layer.name)
        return current

    values = net.forward(x, identity, known)
    assert known == {0: x, net.neuron_positions[1] - 1: hidden_current}  # the caller's dict is not modified
    np.testing.assert_array_equal(values[net.neuron_positions[1] - 1], hidden_current)
    out = model.get_layer("out")
    np.testing.assert_allclose(values[net.output_position], out(hidden_current), rtol=1e-6)
    # Positions not given are still evaluated, the first neuron from the input.
    assert calls == ["if_conv", "if_hidden"]


def test_downstream_synapses_pass_through_pooling_and_flatten():
    net = network.spiking_network(_spiking_cnn())
    at = _positions(net)
    assert [layer.name for layer in net.downstream_synapses(at["if_conv"])] == ["hidden"]
    assert [layer.name for layer in net.downstream_synapses(at["if_hidden"])] == ["out"]
    assert [layer.name for layer in net.downstream_synapses(0)] == ["conv"]
    assert net.downstream_synapses(at["out"]) == []


def test_downstream_synapses_stop_at_neurons_and_follow_every_branch():
    inputs = keras.Input((4,), name="x")
    spikes = IntegrateAndFire(name="if_a")(keras.layers.Dense(4, name="d0")(inputs))
    left = keras.layers.Dense(4, name="left")(spikes)
    right = keras.layers.Dense(4, name="right")(keras.layers.ReLU(name="relu")(spikes))
    merged = keras.layers.Add(name="add")([left, right])
    after = IntegrateAndFire(name="if_b")(merged)
    model = keras.Model(inputs, keras.layers.Dense(2, name="head")(after))
    net = network.spiking_network(model)
    at = _positions(net)
    assert sorted(layer.name for layer in net.downstream_synapses(at["if_a"])) == ["left", "right"]
    # Dense d0 feeds a neuron directly: no synapse is reached through it.
    assert net.downstream_synapses(at["d0"]) == []
    assert [layer.name for layer in net.downstream_synapses(at["if_b"])] == ["head"]


def test_the_network_is_cached_per_model():
    model = _spiking_cnn()
    first = network.spiking_network(model)
    assert network.spiking_network(model) is first
    other = network.spiking_network(_spiking_cnn())
    assert other is not first
    assert [node.role for node in other.nodes] == [node.role for node in first.nodes]


def test_spiking_network_refuses_a_non_model():
    with pytest.raises(TypeError, match="Received: str"):
        network.spiking_network("snn.keras")


def test_elements_and_fan_in():
    assert network.elements((None, 4, 5, 3)) == 60
    assert network.elements((7, 9)) == 9
    conv = keras.layers.Conv2D(8, (3, 2))
    conv.build((None, 6, 6, 5))
    assert network.fan_in(conv) == 3 * 2 * 5
    dense = keras.layers.Dense(4)
    dense.build((None, 11))
    assert network.fan_in(dense) == 11
