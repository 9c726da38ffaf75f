import numpy as np
import pytest

from spkeras.layers import AugmentedIntegrateAndFire, IntegrateAndFire, TernaryIntegrateAndFire


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
