import numpy as np
import pytest

from spkeras.layers import AugmentedIntegrateAndFire, IntegrateAndFire, TernaryIntegrateAndFire
from tests.layers.layer_checks import check_layer


def _run(layer, currents):
    layer.build((None, currents.shape[1]))
    state = layer.initial_state(currents.shape[1] and 1)
    spikes = []
    for current in currents:
        _, state, spike = layer.step(current[None].astype("float32"), state)
        spikes.append(np.asarray(spike)[0])
    return np.array(spikes), state


def test_ternary_negative_spikes_undo_over_firing_by_hand():
    layer = TernaryIntegrateAndFire(threshold=1.0)
    currents = np.array([[1.0], [1.0], [-1.0], [-1.0], [-1.0], [-1.0]])
    spikes, state = _run(layer, currents)
    # V: 1 -> +1 (V=0); 1 -> +1; -1 -> V=-1 -> -1 (V=0); -1 -> -1; net count 0: no more negative spikes
    np.testing.assert_array_equal(spikes[:, 0], [1, 1, -1, -1, 0, 0])
    assert float(np.asarray(state[1])[0, 0]) == 0.0


def test_ternary_net_count_never_negative():
    rng = np.random.default_rng(0)
    layer = TernaryIntegrateAndFire(threshold=0.7)
    currents = rng.normal(0.0, 1.0, size=(300, 50))
    spikes, _ = _run(layer, currents)
    assert np.all(np.cumsum(spikes, axis=0) >= 0)
    assert np.any(spikes < 0)


def test_ternary_needs_soft_reset():
    with pytest.raises(ValueError, match="Received"):
        TernaryIntegrateAndFire(reset="hard")


def test_augmented_coefficients_by_hand():
    layer = AugmentedIntegrateAndFire(threshold=1.0)
    spikes, state = _run(layer, np.array([[3.5], [0.2], [-2.0], [-5.0]]))
    # V: 3.5 -> k=3, V=0.5; +0.2 -> 0.7, k=0; -2 -> -1.3, k=-1 (net 3 -> 2), V=-0.3; -5 -> -5.3, k=-min(5, 2)
    np.testing.assert_array_equal(spikes[:, 0], [3, 0, -1, -2])
    assert float(np.asarray(state[1])[0, 0]) == 0.0


def test_augmented_coefficient_sum_equals_soft_reset_count_for_large_t():
    rng = np.random.default_rng(1)
    constant = rng.uniform(0.0, 0.9, size=(1, 40))
    currents = np.repeat(constant, 512, axis=0)
    augmented, _ = _run(AugmentedIntegrateAndFire(threshold=1.0), currents)
    soft, _ = _run(IntegrateAndFire(threshold=1.0), currents)
    np.testing.assert_array_equal(augmented.sum(axis=0), soft.sum(axis=0))


def test_augmented_exceeds_one_spike_per_step():
    layer = AugmentedIntegrateAndFire(threshold=0.25)
    spikes, _ = _run(layer, np.full((8, 1), 1.0))
    assert spikes.sum() == 32  # 4 spikes per step, impossible for a plain IF neuron


def test_negative_threshold_zero_keeps_the_net_count_rounded_at_every_step():
    # v_init=0.5 and f=0: thresholds at ±θ/2 around the rounding offset, so after every step the net count is
    # round(ΣI/θ) (clipped at 0) as long as one spike per step can keep up.
    rng = np.random.default_rng(3)
    currents = rng.normal(0.1, 0.4, size=(64, 200))
    spikes, _ = _run(TernaryIntegrateAndFire(threshold=1.0, v_init=0.5, negative_threshold=0.0), currents)
    target = np.maximum(np.floor(np.cumsum(currents, axis=0) + 0.5), 0.0)
    net = np.cumsum(spikes, axis=0)
    steps_can_keep_up = np.all(np.abs(np.diff(np.vstack([np.zeros((1, 200)), target]), axis=0)) <= 1, axis=0)
    assert steps_can_keep_up.sum() > 100
    np.testing.assert_array_equal(net[:, steps_can_keep_up], target[:, steps_can_keep_up])
    # TerMapping's rule (f=1) leaves over-firing in place: it differs from the rounded count somewhere.
    default, _ = _run(TernaryIntegrateAndFire(threshold=1.0, v_init=0.5), currents)
    assert np.any(np.cumsum(default, axis=0)[:, steps_can_keep_up] != target[:, steps_can_keep_up])


def test_negative_threshold_zero_by_hand():
    layer = TernaryIntegrateAndFire(threshold=1.0, v_init=0.5, negative_threshold=0.0)
    spikes, _ = _run(layer, np.array([[0.6], [-0.2], [-0.2], [0.0]]))
    # V: 0.5+0.6=1.1 -> +1 (V=0.1); -0.2 -> V=-0.1 < 0 -> -1 (V=0.9); -0.2 -> 0.7; 0 -> 0.7 (no spike at V >= 0)
    np.testing.assert_array_equal(spikes[:, 0], [1, -1, 0, 0])


def test_augmented_negative_threshold_zero_returns_the_potential_to_zero_theta():
    layer = AugmentedIntegrateAndFire(threshold=1.0, negative_threshold=0.0)
    spikes, state = _run(layer, np.array([[3.5], [-1.6], [-5.0]]))
    # V: 3.5 -> k=3, V=0.5; -1.6 -> V=-1.1 -> k=-2 (V=0.9, net 1); -5 -> V=-4.1 -> k=-min(5, 1)
    np.testing.assert_array_equal(spikes[:, 0], [3, -2, -1])
    assert float(np.asarray(state[1])[0, 0]) == 0.0


def test_augmented_fractional_negative_threshold_by_hand():
    layer = AugmentedIntegrateAndFire(threshold=1.0, negative_threshold=0.5)
    spikes, _ = _run(layer, np.array([[2.0], [-2.4]]))
    # V: 2 -> k=2, V=0; -2.4 -> V=-2.4 -> the fewest θ that bring V above -0.5: 2 (V=-0.4)
    np.testing.assert_array_equal(spikes[:, 0], [2, -2])


@pytest.mark.parametrize("value", [-0.1, 1.5, "half", True])
def test_negative_threshold_outside_zero_one_is_refused(value):
    with pytest.raises(ValueError, match=r"negative_threshold.*Received: negative_threshold="):
        TernaryIntegrateAndFire(negative_threshold=value)


@pytest.mark.parametrize("layer_class", [TernaryIntegrateAndFire, AugmentedIntegrateAndFire])
def test_negative_threshold_survives_config_and_keras_file(layer_class, tmp_path):
    model = check_layer(lambda: layer_class(threshold=0.5, v_init=0.5, negative_threshold=0.0), (4, 3), tmp_path)
    assert model.layers[-1].get_config()["negative_threshold"] == 0.0
