"""Methods "cos" and "srp": conversion, evaluation over all T steps (pre-simulation included), bad arguments."""

import keras
import numpy as np
import pytest

import spkeras
from spkeras.layers import OffsetSpikeIntegrateAndFire, ResidualPotentialIntegrateAndFire
from spkeras.methods import available_methods, get_method


def _tiny():
    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [
            keras.Input((6, 6, 1)),
            keras.layers.Conv2D(4, 3),
            keras.layers.ReLU(),
            keras.layers.Flatten(),
            keras.layers.Dense(8),
            keras.layers.ReLU(),
            keras.layers.Dense(3),
        ]
    )
    x = np.random.default_rng(0).uniform(0, 1, (40, 6, 6, 1)).astype("float32")
    y = np.argmax(model.predict(x, verbose=0), -1)
    return model, x, y


@pytest.mark.parametrize(
    ("method", "neuron_class"), [("cos", OffsetSpikeIntegrateAndFire), ("srp", ResidualPotentialIntegrateAndFire)]
)
def test_convert_and_evaluate(method, neuron_class, tmp_path):
    model, x, y = _tiny()
    assert method in available_methods()
    snn = spkeras.convert(model, x, method=method, presim_steps=2, timesteps=6)
    neurons = [layer for layer in snn.layers if getattr(layer, "spiking_neuron", False)]
    assert len(neurons) == 2 and all(type(layer) is neuron_class for layer in neurons)
    assert {(layer.presim_steps, layer.v_init, layer.reset) for layer in neurons} == {(2, 0.5, "soft")}
    # The thresholds are those of the base method (ecc).
    reference = spkeras.convert(model, x, method="ecc", timesteps=6)
    for ours, theirs in zip(snn.get_weights(), reference.get_weights(), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    result = spkeras.evaluate(snn, x, y, timesteps=6, batch_size=20)
    assert result.accuracy.shape == (6,)  # every step, the 2 pre-simulation steps included
    plain = spkeras.evaluate(reference, x, y, timesteps=6, batch_size=20)
    # The pre-simulation is the plain network: identical curves for the first 2 steps.
    np.testing.assert_array_equal(result.accuracy[:2], plain.accuracy[:2])
    assert result.accuracy_at(6) > 0.5
    path = tmp_path / f"{method}.keras"
    spkeras.save_model(snn, path)
    loaded = spkeras.load_model(path)
    again = spkeras.evaluate(loaded, x, y, timesteps=6, batch_size=20)
    np.testing.assert_array_equal(again.accuracy, result.accuracy)


def test_qcfs_base_needs_no_data():
    model, x, y = _tiny()
    tuned = spkeras.prepare_for_conversion(model, levels=4)
    snn = spkeras.convert(tuned, None, method="cos", base="qcfs", presim_steps=1, timesteps=4)
    assert spkeras.evaluate(snn, x, y, timesteps=4, batch_size=20).accuracy.shape == (4,)


@pytest.mark.parametrize(
    ("options", "argument"),
    [({"presim_steps": 0}, "presim_steps"), ({"presim_steps": 2.5}, "presim_steps"), ({"base": "srp"}, "base")],
)
def test_bad_arguments_name_the_argument(options, argument):
    with pytest.raises((ValueError, TypeError), match=argument):
        get_method("cos")(**options)


def test_unknown_base_and_base_options():
    with pytest.raises(ValueError, match="Unknown conversion method 'magic'"):
        get_method("srp")(base="magic")
    with pytest.raises(TypeError, match="unexpected option"):
        get_method("srp")(base="ecc", dense_thresholds="neuron")
    assert get_method("srp")(base="robust", percentile=99.0).base.percentile == 99.0


@pytest.mark.parametrize(
    ("base", "options"), [("termapping", {}), ("augmapping", {}), ("qcfs", {"negative_threshold": 0.0})]
)
def test_a_base_with_signed_neurons_is_refused(base, options):
    # Pre-simulation swaps the neurons for plain restartable IF neurons: it would silently drop the signed ones.
    with pytest.raises(ValueError, match=r"restarts plain integrate-and-fire neurons.*Received: base="):
        get_method("cos")(base=base, **options)
