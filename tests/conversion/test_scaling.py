"""spkeras.conversion.scaling.plan_snn: weights, thresholds and tensor scales from per-site λ, checked by hand."""

import keras
import numpy as np
import pytest

from spkeras.conversion.batchnorm import fold_batchnorm
from spkeras.conversion.lower import lower_model
from spkeras.conversion.scaling import plan_snn
from tests.keras_session import _clean_keras_session  # noqa: F401  (no gc.collect per test)


def _nodes(model):
    return fold_batchnorm(lower_model(model))


def _randomise(model, seed=0):
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, (keras.layers.Dense, keras.layers.Conv2D)):
            kernel, bias = layer.get_weights()
            layer.set_weights([rng.normal(0, 1, kernel.shape), rng.uniform(0.1, 0.5, bias.shape)])
    return model


def _weights(model, name):
    return [np.asarray(w, "float64") for w in model.get_layer(name).get_weights()]


@pytest.fixture
def mlp():
    """Dense(4, relu) → Dense(2, relu) → Dense(2): IR [input, linear, neuron, linear, neuron, linear]."""
    inputs = keras.Input((3,))
    tensor = keras.layers.Dense(4, activation="relu", name="d1")(inputs)
    tensor = keras.layers.Dense(2, activation="relu", name="d2")(tensor)
    model = _randomise(keras.Model(inputs, keras.layers.Dense(2, name="out")(tensor)))
    nodes = _nodes(model)
    assert [node.kind for node in nodes] == ["input", "linear", "neuron", "linear", "neuron", "linear"]
    weights = {name: _weights(model, name) for name in ("d1", "d2", "out")}
    return nodes, weights


def _assert_weights(actual, expected):
    for a, e in zip(actual, expected, strict=True):
        np.testing.assert_allclose(a, e, rtol=1e-12)


def test_unit_spikes_rescale_the_weights_and_threshold_is_one(mlp):
    nodes, (w1, b1), (w2, b2), (w3, b3) = mlp[0], *mlp[1].values()
    weights, thresholds, output_scale = plan_snn(nodes, {2: 2.0, 4: 5.0}, spike_value="unit")
    assert sorted(weights) == [1, 3, 5]
    _assert_weights(weights[1], (w1 / 2.0, b1 / 2.0))
    _assert_weights(weights[3], (w2 * 2.0 / 5.0, b2 / 5.0))
    _assert_weights(weights[5], (w3 * 5.0, b3))  # the output layer keeps the ANN's logits scale
    assert thresholds == {2: 1.0, 4: 1.0}
    assert float(output_scale) == 1.0


def test_threshold_spikes_keep_the_weights_and_threshold_is_lambda(mlp):
    nodes, (w1, b1), (w2, b2), (w3, b3) = mlp[0], *mlp[1].values()
    weights, thresholds, output_scale = plan_snn(nodes, {2: 2.0, 4: 5.0}, spike_value="threshold")
    _assert_weights(weights[1], (w1, b1))
    _assert_weights(weights[3], (w2, b2))
    _assert_weights(weights[5], (w3, b3))
    assert thresholds == {2: 2.0, 4: 5.0}
    assert float(output_scale) == 1.0


def test_both_parametrisations_give_the_ann_rates():
    """The rate of each neuron times its spike value, scaled back, is the ANN's ReLU activation in both modes."""
    inputs = keras.Input((3,))
    model = _randomise(keras.Model(inputs, keras.layers.Dense(4, activation="relu", name="d")(inputs)))
    nodes = _nodes(model)
    x = np.random.default_rng(1).uniform(0, 1, (5, 3))
    kernel, bias = _weights(model, "d")
    ann = np.maximum(x @ kernel + bias, 0)
    scale = ann.max()
    for spike_value, spike in (("unit", 1.0), ("threshold", None)):
        weights, thresholds, output_scale = plan_snn(nodes, {2: scale}, spike_value=spike_value)
        kernel, bias = weights[1]
        threshold = thresholds[2]
        rate = np.clip((x @ kernel + bias) / threshold, 0, 1)  # the IF rate for a constant current
        carried = threshold if spike is None else spike
        np.testing.assert_allclose(rate * carried * output_scale, ann, rtol=1e-10)


def test_threshold_is_lambda_over_the_incoming_scale():
    inputs = keras.Input((3,))
    tensor = keras.layers.Dense(4, activation="relu", name="d1")(inputs)
    tensor = keras.layers.ReLU(name="relu")(tensor)  # a second site fed by the first site's spikes
    model = _randomise(keras.Model(inputs, keras.layers.Dense(2, name="out")(tensor)))
    nodes = _nodes(model)
    assert [node.kind for node in nodes] == ["input", "linear", "neuron", "neuron", "linear"]
    _, unit, _ = plan_snn(nodes, {2: 2.0, 3: 3.0}, spike_value="unit")
    assert unit == {2: 1.0, 3: 1.5}  # spikes of site 2 carry scale 2: θ = 3 / 2
    _, threshold, _ = plan_snn(nodes, {2: 2.0, 3: 3.0}, spike_value="threshold")
    assert threshold == {2: 2.0, 3: 3.0}


def test_a_site_behind_flatten_keeps_the_ann_scale_in_unit_mode():
    # Flatten re-maps channels, so the conv does not drive the site directly: it keeps its weights and θ = λ.
    inputs = keras.Input((4, 4, 1))
    tensor = keras.layers.Flatten()(keras.layers.Conv2D(2, 3, name="conv")(inputs))
    model = _randomise(keras.Model(inputs, keras.layers.ReLU(name="relu")(tensor)))
    nodes = _nodes(model)
    assert [node.kind for node in nodes] == ["input", "linear", "structural", "neuron"]
    weights, thresholds, output_scale = plan_snn(nodes, {3: 4.0}, spike_value="unit")
    _assert_weights(weights[1], _weights(model, "conv"))
    assert thresholds == {3: 4.0}
    assert float(output_scale) == 4.0


def test_per_channel_lambda(mlp):
    nodes, (w1, b1), (w2, b2), _ = mlp[0], *mlp[1].values()
    lam = np.array([1.0, 2.0, 4.0, 8.0])
    weights, thresholds, _ = plan_snn(nodes, {2: lam, 4: 5.0}, spike_value="unit")
    _assert_weights(weights[1], (w1 / lam[None, :], b1 / lam))
    _assert_weights(weights[3], (w2 * lam[:, None] / 5.0, b2 / 5.0))
    assert thresholds[2] == 1.0 and isinstance(thresholds[2], float)
    weights, thresholds, _ = plan_snn(nodes, {2: lam, 4: 5.0}, spike_value="threshold")
    assert thresholds[2] == [1.0, 2.0, 4.0, 8.0]
    _assert_weights(weights[3], (w2, b2))
    # One λ repeated over the channels is one layer-wide threshold.
    _, thresholds, _ = plan_snn(nodes, {2: np.full(4, 3.0), 4: 5.0}, spike_value="threshold")
    assert thresholds[2] == 3.0 and isinstance(thresholds[2], float)


def _residual():
    inputs = keras.Input((3,))
    left = keras.layers.Dense(4, activation="relu", name="left")(inputs)
    right = keras.layers.Dense(4, activation="relu", name="right")(inputs)
    merged = keras.layers.Add(name="add")([left, right])
    model = _randomise(keras.Model(inputs, keras.layers.Dense(2, name="out")(merged)))
    nodes = _nodes(model)
    sites = [index for index, node in enumerate(nodes) if node.kind == "neuron"]
    assert len(sites) == 2 and nodes[-2].kind == "merge"
    return nodes, sites


def test_merging_tensors_of_different_scales_is_refused():
    nodes, (a, b) = _residual()
    with pytest.raises(ValueError, match=r"inputs of 'add' \(Add\) carry different scales.*spike_value='threshold'"):
        plan_snn(nodes, {a: 2.0, b: 3.0}, spike_value="unit")
    with pytest.raises(ValueError, match="different scales"):
        plan_snn(nodes, {a: np.array([1.0, 2.0, 3.0, 4.0]), b: 2.0}, spike_value="unit")
    # Same scales merge exactly; with spikes carrying θ every tensor keeps the ANN's scale anyway.
    _, thresholds, output_scale = plan_snn(nodes, {a: 2.0, b: 2.0}, spike_value="unit")
    assert thresholds == {a: 1.0, b: 1.0} and float(output_scale) == 1.0
    _, thresholds, _ = plan_snn(nodes, {a: 2.0, b: 3.0}, spike_value="threshold")
    assert thresholds == {a: 2.0, b: 3.0}


class _FakeTransform:
    """A method's weight transform: current gain 10 and a 'quantisation' that doubles every weight."""

    gain = 10.0

    def __init__(self):
        self.calls = []

    def quantize(self, kernel, bias):
        self.calls.append(kernel.shape)
        return kernel * 2.0, bias * 2.0, 2.0


def test_a_transform_gain_scales_only_layers_that_drive_neurons_in_unit_mode(mlp):
    nodes, (w1, b1), (w2, b2), (w3, b3) = mlp[0], *mlp[1].values()
    transform = _FakeTransform()
    weights, thresholds, output_scale = plan_snn(nodes, {2: 2.0, 4: 5.0}, spike_value="unit", transform=transform)
    assert transform.calls == [(3, 4), (4, 2), (2, 2)]  # every linear layer is quantised once, in order
    _assert_weights(weights[1], (w1 * 10 / 2.0 * 2, b1 * 10 / 2.0 * 2))
    _assert_weights(weights[3], (w2 * 2.0 * 10 / 5.0 * 2, b2 * 10 / 5.0 * 2))
    _assert_weights(weights[5], (w3 * 5.0 * 2, b3 * 2))  # the output layer drives no neuron: no gain
    # The current's scale is λ / (gain · factor), so θ = gain · factor and the rate is unchanged.
    assert thresholds == {2: 20.0, 4: 20.0}
    assert float(output_scale) == 0.5  # the quantisation factor divides the output's scale


def test_a_transform_gain_is_ignored_when_spikes_carry_the_threshold(mlp):
    nodes, (w1, b1), (w2, b2), (w3, b3) = mlp[0], *mlp[1].values()
    transform = _FakeTransform()
    weights, thresholds, output_scale = plan_snn(nodes, {2: 2.0, 4: 5.0}, spike_value="threshold", transform=transform)
    assert len(transform.calls) == 3
    _assert_weights(weights[1], (w1 * 2, b1 * 2))
    assert thresholds[2] == 4.0  # λ / (1 / factor)
    # Spikes carry θ, so the next layer sees the current's scale 1/2 and its kernel is W·(1/2)·2 = W.
    _assert_weights(weights[3], (w2, b2 * 2))
    assert thresholds[4] == 10.0
    _assert_weights(weights[5], (w3, b3 * 2))
    assert float(output_scale) == 0.5


def test_a_gain_reaches_a_conv_through_pooling():
    inputs = keras.Input((6, 6, 1))
    tensor = keras.layers.AveragePooling2D(2)(keras.layers.Conv2D(2, 3, name="conv")(inputs))
    model = _randomise(keras.Model(inputs, keras.layers.ReLU(name="relu")(tensor)))
    nodes = _nodes(model)
    assert [node.kind for node in nodes] == ["input", "linear", "structural", "neuron"]
    kernel, bias = _weights(model, "conv")
    weights, thresholds, _ = plan_snn(nodes, {3: 4.0}, spike_value="unit", transform=_FakeTransform())
    _assert_weights(weights[1], (kernel * 10 / 4.0 * 2, bias * 10 / 4.0 * 2))
    assert thresholds == {3: 20.0}


def test_unfolded_batch_norms_are_refused():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2), keras.layers.BatchNormalization(name="bn")])
    nodes = lower_model(model)  # not folded
    with pytest.raises(ValueError, match="'bn'.*fold batch norms first"):
        plan_snn(nodes, {}, spike_value="unit")


@pytest.mark.parametrize(
    "between, repeat",
    [(keras.layers.Flatten, 2 * 2), (keras.layers.GlobalAveragePooling2D, 1)],
    ids=["flatten", "global_average_pooling"],
)
def test_per_channel_spike_scales_follow_the_channels_into_the_next_layer(between, repeat):
    # Conv(relu) on 4x4 → 2x2x3 spikes with λ per channel → Flatten (channel fastest) or GAP → Dense.
    inputs = keras.Input((4, 4, 1))
    tensor = keras.layers.Conv2D(3, 3, activation="relu", name="conv")(inputs)
    model = _randomise(keras.Model(inputs, keras.layers.Dense(2, name="out")(between()(tensor))))
    nodes = _nodes(model)
    assert [node.kind for node in nodes] == ["input", "linear", "neuron", "structural", "linear"]
    lam = np.array([1.0, 2.0, 4.0])
    weights, _, _ = plan_snn(nodes, {2: lam}, spike_value="unit")
    kernel, bias = _weights(model, "out")
    _assert_weights(weights[4], (kernel * np.tile(lam, repeat)[:, None], bias))
