import math

import keras
import numpy as np
import pytest

from spkeras.layers import IntegrateAndFire
from tests.layers.layer_checks import check_layer


def _run_steps(layer, currents, shape=(1, 1)):
    """Feeds each current (a scalar or an array of ``shape``) through ``layer.step``; returns per-step arrays."""
    if not layer.built:
        layer.build((None,) + tuple(shape[1:]))
    state = layer.initial_state(shape[0])
    spikes, potentials, outputs = [], [], []
    for current in currents:
        current = np.broadcast_to(np.asarray(current, dtype="float32"), shape)
        output, state, spike = layer.step(current, state)
        spikes.append(keras.ops.convert_to_numpy(spike))
        potentials.append(keras.ops.convert_to_numpy(state[0]))
        outputs.append(keras.ops.convert_to_numpy(output))
    return np.stack(spikes), np.stack(potentials), np.stack(outputs)


def _scalars(values):
    return [float(v) for v in np.asarray(values).reshape(len(values), -1)[:, 0]]


# --- layer checks: shapes, config round trip, .keras save/load ------------------------------------------------


@pytest.mark.parametrize(
    ("factory", "input_shape"),
    [
        (lambda: IntegrateAndFire(threshold=0.7, name="if_scalar"), (5, 5, 3)),
        (lambda: IntegrateAndFire(threshold=[0.3, 1.0, 2.5], reset="hard", v_init=0.5, name="if_channels"), (4, 3)),
        (lambda: IntegrateAndFire(threshold=1.5, spike_value="threshold", timesteps=7, name="if_theta"), (6,)),
        (lambda: IntegrateAndFire(threshold=[0.5, 0.25], v_init=0.25, timesteps=16, name="if_img"), (3, 3, 2)),
    ],
)
def test_integrate_and_fire_layer_checks(factory, input_shape, tmp_path):
    check_layer(factory, input_shape, tmp_path)


def test_config_holds_the_thresholds_and_options():
    layer = IntegrateAndFire(threshold=[0.5, 0.25], reset="hard", v_init=0.5, spike_value="threshold", timesteps=9)
    layer.build((None, 4, 2))
    config = layer.get_config()
    assert config["threshold"] == [0.5, 0.25]
    assert (config["reset"], config["v_init"], config["spike_value"], config["timesteps"]) == (
        "hard",
        0.5,
        "threshold",
        9,
    )
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer.threshold), [0.5, 0.25])
    assert layer.threshold.trainable is False


def test_forward_pass_is_the_closed_form_rate():
    # Docstring example: threshold 1, v_init 0.5, T=4: 0.3 → round(1.2)=1 spike, 0.6 → round(2.4)=2 spikes.
    layer = IntegrateAndFire(threshold=1.0, v_init=0.5, timesteps=4)
    output = keras.ops.convert_to_numpy(layer(np.array([[0.3, 0.6, -1.0, 5.0]], dtype="float32")))
    np.testing.assert_array_equal(output, [[0.25, 0.5, 0.0, 1.0]])


def test_per_channel_threshold_must_match_the_channels():
    layer = IntegrateAndFire(threshold=[1.0, 2.0])
    with pytest.raises(ValueError, match="Received"):
        layer.build((None, 4, 3))


# --- dynamics against hand-computed sequences -----------------------------------------------------------------


def test_soft_reset_example_sequence():
    # θ=1, I=0.6: V 0.6 | 1.2→spike→0.2 | 0.8 | 1.4→spike→0.4.
    spikes, potentials, outputs = _run_steps(IntegrateAndFire(threshold=1.0), [0.6, 0.6, 0.6, 0.6])
    assert _scalars(spikes) == [0.0, 1.0, 0.0, 1.0]
    np.testing.assert_allclose(_scalars(potentials), [0.6, 0.2, 0.8, 0.4], atol=1e-6)
    assert _scalars(outputs) == [0.0, 1.0, 0.0, 1.0]


@pytest.mark.parametrize(
    ("kwargs", "currents", "expected_spikes", "expected_potentials"),
    [
        # soft: 0.75 | 1.5→0.5 | 1.25→0.25 | 1.0→0.0 (residual charge kept)
        (dict(threshold=1.0, reset="soft"), [0.75] * 4, [0, 1, 1, 1], [0.75, 0.5, 0.25, 0.0]),
        # hard: 0.75 | 1.5→0 | 0.75 | 1.5→0 (residual charge lost)
        (dict(threshold=1.0, reset="hard"), [0.75] * 4, [0, 1, 0, 1], [0.75, 0.0, 0.75, 0.0]),
        # soft with varying and negative currents: 0.5 | 0.25 | 1.25→0.25 | 1.0→0.0 | -0.5 | 0.25
        (
            dict(threshold=1.0, reset="soft"),
            [0.5, -0.25, 1.0, 0.75, -0.5, 0.75],
            [0, 0, 1, 1, 0, 0],
            [0.5, 0.25, 0.25, 0.0, -0.5, 0.25],
        ),
        # soft, I > θ: one spike per step at most, the potential keeps growing: 2.5→1.5 | 4.0→3.0 | 5.5→4.5
        (dict(threshold=1.0, reset="soft"), [2.5] * 3, [1, 1, 1], [1.5, 3.0, 4.5]),
        # v_init=0.5 (V starts at 0.5): 0.75 | 1.0→0.0 | 0.25 | 0.5
        (dict(threshold=1.0, v_init=0.5), [0.25] * 4, [0, 1, 0, 0], [0.75, 0.0, 0.25, 0.5]),
        # v_init=0.5 with hard reset: after a spike the potential goes to 0, not back to v_init·θ
        (dict(threshold=1.0, v_init=0.5, reset="hard"), [0.5] * 4, [1, 0, 1, 0], [0.0, 0.5, 0.0, 0.5]),
        # θ=0.75, v_init=0.5 (V starts at 0.375): 0.875→0.125 | 0.625 | 1.125→0.375
        (dict(threshold=0.75, v_init=0.5), [0.5] * 3, [1, 0, 1], [0.125, 0.625, 0.375]),
        # exactly at threshold fires (V ≥ θ): 0.5 | 1.0→0.0
        (dict(threshold=1.0), [0.5, 0.5], [0, 1], [0.5, 0.0]),
    ],
)
def test_step_sequences(kwargs, currents, expected_spikes, expected_potentials):
    spikes, potentials, outputs = _run_steps(IntegrateAndFire(**kwargs), currents)
    assert _scalars(spikes) == [float(s) for s in expected_spikes]
    assert _scalars(potentials) == expected_potentials
    assert _scalars(outputs) == [float(s) for s in expected_spikes]


def test_initial_state_is_v_init_times_threshold():
    for threshold, v_init, expected in [(1.0, 0.0, 0.0), (0.75, 0.5, 0.375), (2.0, 0.25, 0.5)]:
        layer = IntegrateAndFire(threshold=threshold, v_init=v_init)
        layer.build((None, 2, 3))
        (potential,) = layer.initial_state(4)
        potential = keras.ops.convert_to_numpy(potential)
        assert potential.shape == (4, 2, 3)
        np.testing.assert_array_equal(potential, np.full((4, 2, 3), expected, dtype="float32"))


def test_spike_value_threshold_emits_theta():
    # θ=0.75, soft, I=0.5: 0.5 | 1.0→0.25 | 0.75→0.0 | 0.5
    layer = IntegrateAndFire(threshold=0.75, spike_value="threshold")
    spikes, potentials, outputs = _run_steps(layer, [0.5] * 4)
    assert _scalars(spikes) == [0.0, 1.0, 1.0, 0.0]
    assert _scalars(outputs) == [0.0, 0.75, 0.75, 0.0]
    assert _scalars(potentials) == [0.5, 0.25, 0.0, 0.5]


def test_spike_value_unit_emits_one():
    layer = IntegrateAndFire(threshold=0.75, spike_value="unit")
    _, _, outputs = _run_steps(layer, [0.5] * 4)
    assert _scalars(outputs) == [0.0, 1.0, 1.0, 0.0]


def test_per_channel_thresholds_broadcast_over_the_last_axis():
    # θ = [1, 0.5, 0.25], soft reset, I = 0.375 everywhere.
    # θ=1:    0.375 | 0.75 | 1.125→0.125                 spikes 0 0 1
    # θ=0.5:  0.375 | 0.75→0.25 | 0.625→0.125            spikes 0 1 1
    # θ=0.25: 0.375→0.125 | 0.5→0.25 | 0.625→0.375       spikes 1 1 1
    shape = (2, 4, 3)
    layer = IntegrateAndFire(threshold=[1.0, 0.5, 0.25], spike_value="threshold")
    spikes, potentials, outputs = _run_steps(layer, [0.375] * 3, shape=shape)
    expected_spikes = np.array([[0, 0, 1], [0, 1, 1], [1, 1, 1]], dtype="float32").T  # (step, channel)
    expected_potentials = np.array([[0.375, 0.75, 0.125], [0.375, 0.25, 0.125], [0.125, 0.25, 0.375]]).T
    assert spikes.shape == (3,) + shape
    for sample in range(shape[0]):
        for position in range(shape[1]):
            np.testing.assert_array_equal(spikes[:, sample, position, :], expected_spikes)
            np.testing.assert_array_equal(potentials[:, sample, position, :], expected_potentials)
            np.testing.assert_array_equal(outputs[:, sample, position, :], expected_spikes * [1.0, 0.5, 0.25])


def test_per_channel_hard_reset_differs_per_channel():
    # θ = [1, 0.5], hard reset, I = 0.75: θ=1: 0.75 | 1.5→0 | 0.75 ; θ=0.5: 0.75→0 (every step).
    layer = IntegrateAndFire(threshold=[1.0, 0.5], reset="hard")
    spikes, potentials, _ = _run_steps(layer, [0.75] * 3, shape=(1, 2))
    np.testing.assert_array_equal(spikes[:, 0, :], [[0, 1], [1, 1], [0, 1]])
    np.testing.assert_array_equal(potentials[:, 0, :], [[0.75, 0.0], [0.0, 0.0], [0.75, 0.0]])


# --- constructor errors ---------------------------------------------------------------------------------------


BAD_ARGUMENTS = {
    "threshold": [
        (0.0, ValueError),
        (-1.0, ValueError),
        (float("nan"), ValueError),
        (float("inf"), ValueError),
        ([1.0, 0.0], ValueError),
        ([1.0, float("nan")], ValueError),
        ([], ValueError),
        ("abc", TypeError),
        ({"a": 1}, TypeError),
        (1 + 2j, TypeError),
    ],
    "reset": [("Soft", ValueError), ("subtract", ValueError), (None, ValueError)],
    "v_init": [(1.0, ValueError), (-0.1, ValueError), (float("nan"), ValueError), ("0.5", ValueError)],
    "timesteps": [(0, ValueError), (-3, ValueError), (2.0, ValueError), (True, ValueError)],
    "spike_value": [("rate", ValueError), (None, ValueError)],
}


@pytest.mark.parametrize("argument", sorted(BAD_ARGUMENTS))
def test_constructor_errors(argument):
    for value, error in BAD_ARGUMENTS[argument]:
        with pytest.raises(error, match="Received") as info:
            IntegrateAndFire(**{argument: value})
        message = str(info.value)
        assert f"`{argument}`" in message, (value, message)
        assert repr(value) in message, (value, message)


def test_numpy_and_int_scalar_thresholds_are_layer_wide():
    for threshold in (np.float32(0.5), np.float64(2.0), 3):
        layer = IntegrateAndFire(threshold=threshold)
        assert not layer.per_channel, threshold
        layer.build((None, 4, 3))
        assert tuple(layer.threshold.shape) == (), threshold


def test_zero_dimensional_array_threshold_is_layer_wide():
    layer = IntegrateAndFire(threshold=np.array(0.5))
    assert not layer.per_channel
    layer.build((None, 4, 3))
    assert tuple(layer.threshold.shape) == ()


@pytest.mark.parametrize("threshold", [True, False, "1.5", b"2", [True, False], None])
def test_bool_and_string_thresholds_are_refused(threshold):
    with pytest.raises(TypeError, match="Received"):
        IntegrateAndFire(threshold=threshold)


# --- closed form versus time stepping -------------------------------------------------------------------------

# k/64 for k in [-20, 200): exactly representable in float32, as are all potentials and charges below.
CURRENTS = (np.arange(-20, 200, dtype="float64") / 64.0).astype("float32")


@pytest.mark.parametrize("reset", ["soft", "hard"])
@pytest.mark.parametrize("threshold", [1.0, 0.75])
def test_closed_form_count_equals_time_stepping(threshold, reset):
    assert np.array_equal(CURRENTS.astype("float64"), np.arange(-20, 200) / 64.0)  # exact float32 values
    checkpoints = (1, 7, 64, 256)
    for v_init in (0.0, 0.5):
        layer = IntegrateAndFire(threshold=threshold, v_init=v_init, reset=reset)
        spikes, _, _ = _run_steps(layer, [CURRENTS[None, :]] * checkpoints[-1], shape=(1, CURRENTS.size))
        cumulative = np.cumsum(spikes.astype("float64")[:, 0, :], axis=0)
        for timesteps in checkpoints:
            stepped = cumulative[timesteps - 1]
            closed = keras.ops.convert_to_numpy(layer.closed_form_count(CURRENTS[None, :], timesteps))[0]
            mismatch = np.flatnonzero(closed != stepped)
            details = [(float(CURRENTS[i]), float(closed[i]), float(stepped[i])) for i in mismatch[:10]]
            assert mismatch.size == 0, (v_init, timesteps, details)
            # The forward pass is the same count divided by T.
            layer.timesteps = timesteps
            rate = keras.ops.convert_to_numpy(layer(CURRENTS[None, :]))[0]
            np.testing.assert_array_equal(rate, (stepped / timesteps).astype("float32"), err_msg=str(timesteps))


@pytest.mark.parametrize("reset", ["soft", "hard"])
def test_closed_form_matches_formula_for_soft_and_hard_reset(reset):
    # Independent check of a few counts by hand, θ=1, v_init=0, T=7.
    # soft: floor(7·I); hard: first spike at ceil(1/I), then one every ceil(1/I) steps.
    currents = np.array([[0.0, 0.25, 0.375, 0.5, 0.75, 1.0, 3.0, -1.0]], dtype="float32")
    expected = {
        "soft": [0, 1, 2, 3, 5, 7, 7, 0],  # floor(1.75), floor(2.625), floor(3.5), floor(5.25)
        "hard": [0, 1, 2, 3, 3, 7, 7, 0],  # periods 4, 3, 2, 2, 1, 1: 1+floor((7-p)/p)
    }[reset]
    layer = IntegrateAndFire(threshold=1.0, reset=reset)
    layer.build((None, currents.shape[1]))
    closed = keras.ops.convert_to_numpy(layer.closed_form_count(currents, 7))[0]
    assert [float(c) for c in closed] == [float(e) for e in expected]
    spikes, _, _ = _run_steps(layer, [currents] * 7, shape=currents.shape)
    assert [float(c) for c in spikes.sum(axis=0)[0]] == [float(e) for e in expected]


def test_closed_form_per_channel_equals_time_stepping():
    thresholds = [1.0, 0.75, 0.5]
    currents = np.repeat(CURRENTS[:, None], len(thresholds), axis=1)  # (N, channels)
    for reset in ("soft", "hard"):
        layer = IntegrateAndFire(threshold=thresholds, reset=reset, v_init=0.5)
        spikes, _, _ = _run_steps(layer, [currents] * 64, shape=currents.shape)
        closed = keras.ops.convert_to_numpy(layer.closed_form_count(currents, 64))
        np.testing.assert_array_equal(closed, spikes.sum(axis=0), err_msg=reset)
        # Channel c behaves like a layer-wide neuron with threshold thresholds[c].
        for channel, threshold in enumerate(thresholds):
            single = IntegrateAndFire(threshold=threshold, reset=reset, v_init=0.5)
            single.build((None, 1))
            expected = keras.ops.convert_to_numpy(single.closed_form_count(currents[:, channel : channel + 1], 64))
            np.testing.assert_array_equal(closed[:, channel : channel + 1], expected)
    assert math.isclose(float(closed.max()), 64.0)
