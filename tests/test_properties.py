"""Property tests (Hypothesis) of the conversion's invariants over random small CNNs.

Random networks: 1-3 convolution blocks (random channels, kernel sizes, strides, padding, bias), batch norms
with random statistics before the ReLU, average pooling, residual ``Add`` blocks, and a head of Flatten or global
average pooling with an optional hidden Dense layer (with or without batch norm). Examples are derandomised so
the default run is reproducible; each test's ``max_examples`` keeps the whole file well under 90 s.
"""

from __future__ import annotations

import keras
import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import spkeras
from spkeras.conversion import fold_model
from spkeras.layers import IntegrateAndFire
from tests.keras_session import _clean_keras_session  # noqa: F401  (cheap per-test Keras reset)

# No shrinking: a failure reports the example as drawn (shrinking Keras models can take minutes).
SETTINGS = {
    "deadline": None,
    "derandomize": True,
    "suppress_health_check": [HealthCheck.too_slow],
    "database": None,
    "phases": [Phase.explicit, Phase.generate],
}
METHODS = ("ecc", "robust", "max", "channelwise", "opi", "termapping", "augmapping")

block = st.fixed_dictionaries(
    {
        "filters": st.integers(1, 4),
        "kernel": st.integers(1, 3),
        "stride": st.integers(1, 2),
        "padding": st.sampled_from(["same", "valid"]),
        "bias": st.booleans(),
        "bn": st.booleans(),
        "residual": st.booleans(),
        "residual_bn": st.booleans(),
        "pool": st.booleans(),
    }
)
network = st.fixed_dictionaries(
    {
        "height": st.integers(4, 9),
        "width": st.integers(4, 9),
        "channels": st.integers(1, 3),
        "blocks": st.lists(block, min_size=1, max_size=3),
        "head": st.sampled_from(["flatten", "gap"]),
        "hidden": st.integers(0, 6),
        "hidden_bn": st.booleans(),
        "classes": st.integers(2, 4),
        "seed": st.integers(0, 2**16),
    }
)


def _batch_norm(name: str, rng: np.random.Generator):
    layer = keras.layers.BatchNormalization(name=name, epsilon=float(rng.choice([1e-3, 1e-5, 0.1])))
    return layer


def _randomise_batch_norms(model: keras.Model, rng: np.random.Generator) -> None:
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            shape = layer.moving_mean.shape
            layer.gamma.assign(rng.uniform(0.5, 1.5, shape))
            layer.beta.assign(rng.normal(0, 0.3, shape))
            layer.moving_mean.assign(rng.normal(0, 0.3, shape))
            layer.moving_variance.assign(rng.uniform(0.3, 2.0, shape))


def build_network(spec: dict) -> keras.Model:
    """The Keras model of a ``network`` spec (choices that do not fit the current shape are adjusted)."""
    keras.utils.set_random_seed(spec["seed"])
    rng = np.random.default_rng(spec["seed"])
    inputs = keras.Input((spec["height"], spec["width"], spec["channels"]), name="image")
    x, size = inputs, min(spec["height"], spec["width"])
    for index, options in enumerate(spec["blocks"]):
        kernel = min(options["kernel"], size)
        padding = options["padding"] if size >= kernel else "same"
        stride = options["stride"] if size >= 2 else 1
        x = keras.layers.Conv2D(
            options["filters"], kernel, strides=stride, padding=padding, use_bias=options["bias"], name=f"conv{index}"
        )(x)
        size = -(-(size - (kernel - 1 if padding == "valid" else 0)) // stride)
        if options["bn"]:
            x = _batch_norm(f"bn{index}", rng)(x)
        x = keras.layers.ReLU(name=f"relu{index}")(x)
        if options["residual"]:
            y = keras.layers.Conv2D(options["filters"], 3, padding="same", name=f"res_conv{index}")(x)
            if options["residual_bn"]:
                y = _batch_norm(f"res_bn{index}", rng)(y)
            x = keras.layers.Add(name=f"add{index}")([x, y])
            x = keras.layers.ReLU(name=f"res_relu{index}")(x)
        if options["pool"] and size >= 2:
            x = keras.layers.AveragePooling2D(2, name=f"pool{index}")(x)
            size //= 2
    x = (
        keras.layers.Flatten(name="flatten")(x)
        if spec["head"] == "flatten"
        else keras.layers.GlobalAveragePooling2D()(x)
    )
    if spec["hidden"]:
        x = keras.layers.Dense(spec["hidden"], name="hidden")(x)
        if spec["hidden_bn"]:
            x = _batch_norm("hidden_bn", rng)(x)
        x = keras.layers.ReLU(name="hidden_relu")(x)
    outputs = keras.layers.Dense(spec["classes"], name="logits")(x)
    model = keras.Model(inputs, outputs, name="random_cnn")
    _randomise_batch_norms(model, rng)
    return model


def _inputs(spec: dict, count: int = 12) -> np.ndarray:
    rng = np.random.default_rng(spec["seed"] + 1)
    return rng.uniform(0, 1, (count, spec["height"], spec["width"], spec["channels"])).astype("float32")


def _relu_outputs(folded: keras.Model, x: np.ndarray) -> list[np.ndarray]:
    """The activations of the folded ANN's ReLUs (its neuron sites), in network order."""
    relus = [layer for layer in folded.layers if isinstance(layer, keras.layers.ReLU)]
    probe = keras.Model(folded.input, [layer.output for layer in relus])
    values = probe(x, training=False)
    return [np.asarray(v) for v in (values if isinstance(values, (list, tuple)) else [values])]


def _neurons(snn: keras.Model) -> list[IntegrateAndFire]:
    return [layer for layer in snn.layers if isinstance(layer, IntegrateAndFire)]


@settings(max_examples=6, **SETTINGS)
@given(spec=network, method=st.sampled_from(METHODS))
def test_conversion_never_crashes_and_leaves_the_source_unchanged(spec, method):
    model = build_network(spec)
    x = _inputs(spec)
    weights = [np.array(w, copy=True) for w in model.get_weights()]
    config = model.get_config()
    snn = spkeras.convert(model, x, method=method, timesteps=16)
    assert len(_neurons(snn)) == sum(isinstance(layer, keras.layers.ReLU) for layer in model.layers)
    assert all(np.all(np.isfinite(w)) for w in snn.get_weights())
    after = model.get_weights()
    assert len(after) == len(weights)
    assert all(np.array_equal(a, b) for a, b in zip(after, weights)), "convert modified the source model's weights"
    assert model.get_config() == config


@settings(max_examples=8, **SETTINGS)
@given(spec=network)
def test_batch_norm_folding_is_exact(spec):
    model = build_network(spec)
    x = _inputs(spec)
    folded = fold_model(model)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in folded.layers)
    expected = np.asarray(model(x, training=False), dtype="float64")
    got = np.asarray(folded(x, training=False), dtype="float64")
    scale = max(1.0, float(np.max(np.abs(expected))))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5 * scale)


@settings(max_examples=40, **SETTINGS)
@given(
    threshold=st.floats(0.05, 20.0),
    v_init=st.sampled_from([0.0, 0.25, 0.5, 0.9]),
    reset=st.sampled_from(["soft", "hard"]),
    timesteps=st.integers(1, 48),
    relative=st.lists(st.floats(-1.0, 3.0), min_size=1, max_size=16),
)
def test_closed_form_count_equals_the_time_stepped_count(threshold, v_init, reset, timesteps, relative):
    """For a constant input current, ``closed_form_count`` is the number of spikes ``step`` emits in T steps.

    The two differ only where float32 rounding decides a tie (a potential landing on θ to within 1e-4 θ); those
    neurons may differ by one spike, all others must agree exactly.
    """
    neuron = IntegrateAndFire(threshold=threshold, reset=reset, v_init=v_init, timesteps=timesteps)
    currents = (np.asarray(relative, dtype="float32") * np.float32(threshold))[None]
    neuron.build(currents.shape)
    state = neuron.initial_state(1)
    count = np.zeros(currents.shape, dtype="float64")
    potentials = []
    for _ in range(timesteps):
        _, state, spikes = neuron.step(currents, state)
        count += np.asarray(spikes)
        potentials.append(np.asarray(state[0]))
    closed = np.asarray(neuron.closed_form_count(currents, timesteps), dtype="float64")
    # Ties: T·I + v0 within 1e-4 θ of a multiple of θ (soft reset), or any step's potential that close to θ.
    charge = (timesteps * currents.astype("float64") + v_init * threshold) / threshold
    near_tie = np.abs(charge - np.round(charge)) < 1e-4
    near_tie |= np.any([np.abs(p / threshold - np.round(p / threshold)) < 1e-4 for p in potentials], axis=0)
    if reset == "hard":
        ratio = threshold / np.maximum(currents.astype("float64"), 1e-30)
        near_tie |= np.abs(ratio - np.round(ratio)) < 1e-3 * np.maximum(ratio, 1)
        near_tie |= np.abs((1 - v_init) * ratio - np.round((1 - v_init) * ratio)) < 1e-3 * np.maximum(ratio, 1)
    exact = ~near_tie
    np.testing.assert_array_equal(closed[exact], count[exact])
    assert np.all(np.abs(closed - count) <= 1)
    assert np.all((count >= 0) & (count <= timesteps))


def _rates(snn: keras.Model, recorded: dict) -> list[np.ndarray]:
    """Each spiking layer's firing rate (spikes per step), from ``record``'s mean emitted value per step."""
    rates = []
    for layer in _neurons(snn):
        value = recorded[layer.name]
        if layer.spike_value == "threshold":
            value = value / np.asarray(layer.threshold)
        rates.append(value)
    return rates


@settings(max_examples=4, **SETTINGS)
@given(spec=network, method=st.sampled_from(["ecc", "max"]), timesteps=st.sampled_from([16, 64]))
def test_firing_rates_track_the_normalised_ann_activations(spec, method, timesteps):
    """Rate of layer l ≈ a_l / λ_l (λ_l = the maximum of a_l on the calibration data, max-norm methods).

    The first spiking layer sees the analog input through linear layers only, so its rate is the normalised
    activation quantised to 1/T: |rate − a/λ| ≤ 1/T (+ float rounding). Deeper layers add the quantisation of
    the layers before them: their mean error is bounded loosely.
    """
    model = build_network(spec)
    x = _inputs(spec)
    snn = spkeras.convert(model, x, method=method, timesteps=timesteps, reset="soft")
    activations = _relu_outputs(fold_model(model), x)
    rates = _rates(snn, spkeras.simulate.record(snn, x, timesteps))
    assert len(rates) == len(activations)
    normalised = []
    for activation in activations:
        largest = float(np.max(activation))
        normalised.append(activation / largest if largest > 0 else activation)
    first_error = np.abs(rates[0] - normalised[0])
    assert float(first_error.max()) <= 1.0 / timesteps + 1e-4
    for depth, (rate, target) in enumerate(zip(rates[1:], normalised[1:]), start=2):
        mean_error = float(np.mean(np.abs(rate - target)))
        assert mean_error <= 0.05 * depth + 2.0 * depth / timesteps, (depth, mean_error)


@settings(max_examples=2, **SETTINGS)
@given(spec=network, method=st.sampled_from(["ecc", "robust", "channelwise"]))
def test_keras_round_trip_gives_bit_identical_simulations(spec, method, tmp_path_factory):
    model = build_network(spec)
    x = _inputs(spec, count=6)
    snn = spkeras.convert(model, x, method=method, timesteps=8)
    path = spkeras.save_model(snn, tmp_path_factory.mktemp("round_trip") / "snn.keras")
    loaded = spkeras.load_model(path)
    before = spkeras.simulate.record(snn, x, 8)
    after = spkeras.simulate.record(loaded, x, 8)
    assert before.keys() == after.keys()
    for name in before:
        np.testing.assert_array_equal(after[name], before[name], err_msg=name)
    for a, b in zip(snn.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


@settings(max_examples=2, **SETTINGS)
@given(spec=network, seed=st.integers(0, 2**31 - 1))
def test_seeded_poisson_runs_are_identical_across_runs(spec, seed):
    model = build_network(spec)
    x = _inputs(spec, count=6)
    y = np.arange(6) % spec["classes"]
    snn = spkeras.convert(model, x, timesteps=8)
    first = spkeras.evaluate(snn, x, y, timesteps=8, encoding="poisson", seed=seed, batch_size=4)
    second = spkeras.evaluate(snn, x, y, timesteps=8, encoding="poisson", seed=seed, batch_size=4)
    np.testing.assert_array_equal(first.accuracy, second.accuracy)
    np.testing.assert_array_equal(first.spikes_per_step, second.spikes_per_step)


def test_seeded_poisson_runs_are_identical_across_batch_sizes():
    spec = {
        "height": 6,
        "width": 6,
        "channels": 1,
        "blocks": [{"filters": 3, "kernel": 3, "stride": 1, "padding": "same", "bias": True, "bn": True}],
        "head": "flatten",
        "hidden": 4,
        "hidden_bn": False,
        "classes": 3,
        "seed": 7,
    }
    for options in spec["blocks"]:
        options.update(residual=False, residual_bn=False, pool=False)
    model = build_network(spec)
    x = _inputs(spec, count=8)
    y = np.arange(8) % 3
    snn = spkeras.convert(model, x, timesteps=8)
    whole = spkeras.evaluate(snn, x, y, timesteps=8, encoding="poisson", seed=5, batch_size=8)
    single = spkeras.evaluate(snn, x, y, timesteps=8, encoding="poisson", seed=5, batch_size=1)
    np.testing.assert_array_equal(single.spikes_per_step, whole.spikes_per_step)
    np.testing.assert_array_equal(single.accuracy, whole.accuracy)
