"""spkeras.conversion.build: the folded ANN and the SNN are built from IR nodes with the planned weights and names."""

import keras
import numpy as np
import pytest

from spkeras.conversion.batchnorm import fold_batchnorm
from spkeras.conversion.build import build_folded_ann, build_model, build_snn
from spkeras.conversion.lower import lower_model
from spkeras.conversion.scaling import plan_snn
from spkeras.layers import IntegrateAndFire, NeuronSettings
from spkeras.methods.ecc import AmplifiedWeights
from tests.keras_session import _clean_keras_session  # noqa: F401  (no gc.collect per test)
from tests.model_zoo import tiny_cnn, tiny_inputs


def _types(model):
    return [type(layer).__name__ for layer in model.layers]


@pytest.fixture
def cnn_nodes():
    model = tiny_cnn()
    return model, fold_batchnorm(lower_model(model))


def test_folded_ann_computes_the_source_model(cnn_nodes):
    model, nodes = cnn_nodes
    folded, layers = build_folded_ann(nodes, "folded")
    assert folded.name == "folded"
    assert _types(folded) == [
        "InputLayer",
        "Conv2D",
        "ReLU",
        "AveragePooling2D",
        "Conv2D",
        "ReLU",
        "Flatten",
        "Dense",
        "ReLU",
        "Dense",
    ]
    assert tuple(folded.inputs[0].shape) == (None, 10, 10, 2)
    assert tuple(folded.outputs[0].shape) == (None, 4)
    x = tiny_inputs(6)
    np.testing.assert_allclose(folded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-4, atol=1e-5)
    # ``layers`` maps every non-input node to the layer built for it, with the node's (folded) weights.
    assert sorted(layers) == list(range(1, len(nodes)))
    for index, layer in layers.items():
        assert layer in folded.layers
        if nodes[index].kind == "linear":
            kernel, bias = layer.get_weights()
            np.testing.assert_allclose(kernel, nodes[index].kernel, rtol=1e-6)
            np.testing.assert_allclose(bias, nodes[index].bias, rtol=1e-6, atol=1e-7)


def test_folded_ann_keeps_clip_bounds():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="relu6"), keras.layers.Dense(2)])
    folded, layers = build_folded_ann(lower_model(model), "folded")
    relu = layers[2]
    assert isinstance(relu, keras.layers.ReLU) and float(relu.max_value) == 6.0


def test_snn_layers_carry_the_planned_weights_and_thresholds(cnn_nodes):
    _, nodes = cnn_nodes
    sites = [index for index, node in enumerate(nodes) if node.kind == "neuron"]
    scales = {site: np.float64(1.5 + k) for k, site in enumerate(sites)}
    settings = NeuronSettings(IntegrateAndFire, reset="hard", v_init=0.25, spike_value="unit", timesteps=12)
    transform = AmplifiedWeights(gain=7.0)
    snn, layers = build_snn(nodes, scales, settings, transform, "snn")
    weights, thresholds, _ = plan_snn(nodes, scales, spike_value="unit", transform=transform)
    assert set(thresholds.values()) == {7.0}  # θ = κ: not the layer's default of 1
    assert snn.name == "snn"
    assert _types(snn).count("IntegrateAndFire") == len(sites) == 3
    for site in sites:
        neuron = layers[site]
        assert type(neuron) is IntegrateAndFire
        assert (neuron.reset, neuron.v_init, neuron.spike_value, neuron.timesteps) == ("hard", 0.25, "unit", 12)
        np.testing.assert_allclose(float(neuron.threshold.numpy()), thresholds[site], rtol=1e-6)
    for index, (kernel, bias) in weights.items():
        built_kernel, built_bias = layers[index].get_weights()
        np.testing.assert_allclose(built_kernel, kernel, rtol=1e-6)
        np.testing.assert_allclose(built_bias, bias, rtol=1e-6, atol=1e-7)
    # Rescaled, not copied: the first conv is amplified by κ and divided by its site's λ.
    np.testing.assert_allclose(layers[1].get_weights()[0], nodes[1].kernel * 7.0 / 1.5, rtol=1e-6)


def test_snn_with_per_channel_scales_and_threshold_spikes():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(2)])
    nodes = lower_model(model)
    lam = np.array([1.0, 2.0, 3.0, 4.0])
    settings = NeuronSettings(IntegrateAndFire, spike_value="threshold")
    snn, layers = build_snn(nodes, {2: lam}, settings, None, "snn")
    neuron = layers[2]
    assert neuron.per_channel and neuron.spike_value == "threshold"
    np.testing.assert_allclose(neuron.threshold.numpy(), lam)
    np.testing.assert_allclose(layers[1].get_weights()[0], model.layers[0].get_weights()[0])


def test_names_are_unique_and_neurons_are_named_after_their_layer():
    inputs = keras.Input((3,), name="x")
    tensor = keras.layers.Dense(4, activation="relu", name="fc")(inputs)
    tensor = keras.layers.Dense(4, activation="relu", name="fc_spiking")(tensor)  # collides with fc's neuron
    tensor = keras.layers.ReLU(name="act")(tensor)
    model = keras.Model(inputs, keras.layers.Dense(2, name="fc_relu")(tensor))
    nodes = lower_model(model)
    settings = NeuronSettings(IntegrateAndFire)
    sites = {index: np.float64(1.0) for index, node in enumerate(nodes) if node.kind == "neuron"}
    snn, _ = build_snn(nodes, sites, settings, None, "snn")
    folded, _ = build_folded_ann(nodes, "folded")
    for built in (snn, folded):
        names = [layer.name for layer in built.layers]
        assert len(names) == len(set(names)), names
    assert [layer.name for layer in snn.layers] == [
        "x",
        "fc",
        "fc_spiking",
        "fc_spiking_2",
        "fc_spiking_spiking",
        "act",
        "fc_relu",
    ]
    assert [layer.name for layer in folded.layers] == [
        "x",
        "fc",
        "fc_relu",
        "fc_spiking",
        "fc_spiking_relu",
        "act",
        "fc_relu_2",
    ]


def test_build_model_uses_the_given_neuron_and_weight_factories():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="relu", name="fc")])
    nodes = lower_model(model)
    calls = []

    def make_neuron(index, node, name):
        calls.append(("neuron", index, node.name, name))
        return keras.layers.Activation("linear", name=name)

    def linear_weights(index, node):
        calls.append(("weights", index, node.name))
        return np.full((3, 2), 0.5), np.array([1.0, -1.0])

    built, layers = build_model(nodes, "custom", make_neuron, linear_weights, neuron_suffix="site")
    assert calls == [("weights", 1, "fc"), ("neuron", 2, "fc", "fc_site")]
    np.testing.assert_array_equal(layers[1].get_weights()[0], np.full((3, 2), 0.5, "float32"))
    x = np.array([[1.0, 2.0, 3.0]], "float32")
    np.testing.assert_allclose(built.predict(x, verbose=0), [[4.0, 2.0]])


def test_build_model_refuses_unfolded_batch_norms():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2), keras.layers.BatchNormalization(name="bn")])
    with pytest.raises(ValueError, match="'bn' of kind 'batchnorm'; fold batch norms first"):
        build_folded_ann(lower_model(model), "folded")
