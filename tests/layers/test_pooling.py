import keras
import numpy as np
import pytest

from spkeras.layers import SpikingMaxPooling1D, SpikingMaxPooling2D
from tests.layers.layer_checks import check_layer


def _run(layer, steps):
    """Feeds ``steps`` (a list of arrays) through ``layer.step``; returns the outputs stacked over time."""
    state = layer.initial_state(steps[0].shape[0])
    outputs = []
    for x in steps:
        output, state = layer.step(keras.ops.convert_to_tensor(x), state)
        outputs.append(keras.ops.convert_to_numpy(output))
    return np.stack(outputs)


@pytest.mark.parametrize(
    ("factory", "shape", "expected"),
    [
        (lambda: SpikingMaxPooling2D(pool_size=2, name="pool2d"), (4, 6, 3), (2, 3, 3)),
        (lambda: SpikingMaxPooling2D(pool_size=3, strides=2, padding="same", name="pool2d_same"), (5, 5, 2), (3, 3, 2)),
        (lambda: SpikingMaxPooling1D(pool_size=2, name="pool1d"), (8, 4), (4, 4)),
    ],
)
def test_spiking_max_pooling_layer_contract(factory, shape, expected, tmp_path):
    check_layer(factory, shape, tmp_path, expected_output_shape=expected)


def test_keras_call_is_plain_max_pooling():
    x = np.random.default_rng(0).uniform(-1, 1, (2, 4, 4, 3)).astype("float32")
    expected = keras.layers.MaxPooling2D(2)(x)
    np.testing.assert_array_equal(SpikingMaxPooling2D(2)(x), expected)


def test_accumulated_output_is_the_window_maximum_of_accumulated_input():
    rng = np.random.default_rng(1)
    steps = [(rng.uniform(size=(3, 4, 4, 2)) < 0.3).astype("float32") for _ in range(40)]
    layer = SpikingMaxPooling2D(2)
    layer.build((None, 4, 4, 2))
    outputs = _run(layer, steps)
    accumulated_input = np.cumsum(np.stack(steps), axis=0)
    window_maximum = accumulated_input.reshape(40, 3, 2, 2, 2, 2, 2).max(axis=(3, 5))
    np.testing.assert_allclose(np.cumsum(outputs, axis=0), window_maximum, atol=1e-6)
    # Binary spikes in, binary spikes out: the maximum grows by at most one spike per step.
    assert set(np.unique(outputs)) <= {0.0, 1.0}


def test_only_the_leader_passes_when_neurons_fire_out_of_phase():
    # Four neurons of one window each fire at rate 1/4, one after the other: stateless max pooling of each
    # step's spikes would pass a spike every step (rate 1); the gate passes rate 1/4.
    steps = [np.eye(4, dtype="float32")[t % 4].reshape(1, 2, 2, 1) for t in range(16)]
    layer = SpikingMaxPooling2D(2)
    layer.build((None, 2, 2, 1))
    outputs = _run(layer, steps)
    assert outputs.sum() == 4.0
    stateless = np.stack(steps).reshape(16, -1).max(axis=1).sum()
    assert stateless == 16.0


def test_constant_input_gives_its_maximum_every_step():
    x = np.random.default_rng(2).uniform(0, 1, (2, 6, 1)).astype("float32")
    layer = SpikingMaxPooling1D(3)
    layer.build((None, 6, 1))
    outputs = _run(layer, [x] * 5)
    np.testing.assert_allclose(outputs, np.broadcast_to(x.reshape(2, 2, 3, 1).max(axis=2), outputs.shape), rtol=1e-6)
