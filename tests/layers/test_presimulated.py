"""The pre-simulating neurons (COS, SRP) checked by hand on short spike trains."""

import numpy as np
import pytest

from spkeras.layers import (
    IntegrateAndFire,
    OffsetSpikeIntegrateAndFire,
    PreSimulatedIntegrateAndFire,
    ResidualPotentialIntegrateAndFire,
)
from tests.layers.layer_checks import check_layer


def _run(layer, currents):
    """Steps ``layer`` (one neuron per column) through ``currents`` (steps, neurons); returns spikes and state."""
    layer.build((None, currents.shape[1]))
    state = layer.initial_state(1)
    spikes = []
    for current in currents:
        _, state, spike = layer.step(current[None].astype("float32"), state)
        spikes.append(np.asarray(spike)[0])
    return np.array(spikes), state


def test_constant_input_is_left_alone_when_presim_shows_no_offset():
    # 0.25 per step from 0.5: V = 0.75, 1.0 (spike, 0), 0.25, 0.5 | restart (V(4) = 0.5 in [0, 1)) at 0.5: same again
    currents = np.full((8, 1), 0.25)
    spikes, state = _run(OffsetSpikeIntegrateAndFire(threshold=1.0, v_init=0.5, presim_steps=4), currents)
    np.testing.assert_array_equal(spikes[:, 0], [0, 1, 0, 0, 0, 1, 0, 0])
    plain, _ = _run(IntegrateAndFire(threshold=1.0, v_init=0.5), currents[:4])
    np.testing.assert_array_equal(spikes[:4, 0], plain[:, 0])
    assert float(np.asarray(state[0])[0, 0]) == pytest.approx(0.5)
    assert int(state[1]) == 8


def test_cos_removes_one_extra_spike():
    # presim 2 steps: 0.8 → V 1.3 spike (fired at 1.3) → 0.3; −0.6 → −0.3 < 0 after one spike: one too many.
    # Restart at 0.5 − max(1, 1.3 − 0.999) = −0.5, then 0.3 per step: −0.2, 0.1, 0.4, 0.7, 1.0 (spike) → 0.
    currents = np.array([[0.8], [-0.6], [0.3], [0.3], [0.3], [0.3], [0.3]])
    spikes, state = _run(OffsetSpikeIntegrateAndFire(threshold=1.0, v_init=0.5, presim_steps=2), currents)
    np.testing.assert_array_equal(spikes[:, 0], [1, 0, 0, 0, 0, 0, 1])
    assert float(np.asarray(state[0])[0, 0]) == pytest.approx(0.0, abs=1e-6)


def test_cos_adds_one_missing_spike():
    # presim 2 steps from 0.5: 0.2 → 0.7 (quiet, highest 0.7); 2.0 → 2.7 spike → 1.7 ≥ 1: one spike too few.
    # Restart at 0.5 + max(1, 1.001 − 0.7) = 1.5.
    currents = np.array([[0.2], [2.0], [0.0], [0.0], [0.0]])
    spikes, state = _run(OffsetSpikeIntegrateAndFire(threshold=1.0, v_init=0.5, presim_steps=2), currents)
    # After the restart at 1.5: spike at once (→ 0.5), then quiet.
    np.testing.assert_array_equal(spikes[:, 0], [0, 1, 1, 0, 0])
    assert float(np.asarray(state[0])[0, 0]) == pytest.approx(0.5)


def test_cos_shift_follows_the_threshold_per_channel():
    # Two channels, θ = (1, 2): both get 0.8θ then −0.6θ, so both lower their start by θ.
    layer = OffsetSpikeIntegrateAndFire(threshold=[1.0, 2.0], v_init=0.5, presim_steps=2)
    currents = np.array([[0.8, 1.6], [-0.6, -1.2]])
    _, state = _run(layer, currents)
    np.testing.assert_allclose(np.asarray(state[0])[0], [-0.5, -1.0], atol=1e-6)


def test_srp_silences_neurons_with_non_positive_residual_potential():
    # Neuron 0: 0.8, −0.6 → V(2) = −0.3: silenced afterwards although its potential keeps firing-level input.
    # Neuron 1: 0.4, 0.4 → 0.9, 1.3 spike → 0.3 > 0: keeps firing (restart at 0.5: 1.3 spike, 0.3+0.8 spike).
    currents = np.array([[0.8, 0.4], [-0.6, 0.4], [0.8, 0.8], [0.8, 0.8]])
    spikes, state = _run(ResidualPotentialIntegrateAndFire(threshold=1.0, v_init=0.5, presim_steps=2), currents)
    np.testing.assert_array_equal(spikes, [[1, 0], [0, 1], [0, 1], [0, 1]])
    np.testing.assert_array_equal(np.asarray(state[5])[0], [0.0, 1.0])


@pytest.mark.parametrize("layer_class", [OffsetSpikeIntegrateAndFire, ResidualPotentialIntegrateAndFire])
def test_layer_checks(layer_class, tmp_path):
    model = check_layer(
        lambda: layer_class(threshold=[1.0, 0.5, 2.0], v_init=0.5, presim_steps=3, timesteps=8, name="neurons"),
        (4, 3),
        tmp_path,
    )
    assert model.get_layer("neurons").presim_steps == 3


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", None])
def test_bad_presim_steps_names_the_argument(bad):
    with pytest.raises((ValueError, TypeError), match="presim_steps"):
        OffsetSpikeIntegrateAndFire(presim_steps=bad)


def test_hard_reset_is_refused():
    with pytest.raises(ValueError, match="reset"):
        ResidualPotentialIntegrateAndFire(reset="hard")


def test_base_class_needs_a_restart_rule():
    layer = PreSimulatedIntegrateAndFire(threshold=1.0, presim_steps=1)
    with pytest.raises(NotImplementedError, match="restart"):
        _run(layer, np.ones((1, 1)))
