"""What NIR cannot express is refused with the layer and the reason; the library works without nir installed."""

import sys

import keras
import numpy as np
import pytest

from tests.keras_session import _clean_keras_session  # noqa: F401

nir = pytest.importorskip("nir", reason='needs the optional package nir: pip install "spkeras[nir]"')

from spkeras.errors import NIRConversionError  # noqa: E402
from spkeras.layers import AugmentedIntegrateAndFire, IntegrateAndFire, TernaryIntegrateAndFire  # noqa: E402
from spkeras.nir import export_nir, import_nir  # noqa: E402


def _model(*layers, input_shape=(6, 6, 2)):
    inputs = keras.Input(input_shape)
    x = inputs
    for layer in layers:
        x = layer(x)
    return keras.Model(inputs, x, name="m")


def _refusal(model):
    with pytest.raises(NIRConversionError) as error:
        export_nir(model)
    return str(error.value)


@pytest.mark.parametrize(
    ("neuron", "expected"),
    [
        (TernaryIntegrateAndFire(name="ternary"), "'ternary' (TernaryIntegrateAndFire): it emits negative spikes"),
        (AugmentedIntegrateAndFire(name="aug"), "'aug' (AugmentedIntegrateAndFire): one event carries several"),
        (IntegrateAndFire(reset="hard", v_init=0.5, name="hard"), "'hard' (IntegrateAndFire): a hard-reset neuron"),
    ],
)
def test_neurons_without_an_nir_form_are_refused(neuron, expected):
    message = _refusal(_model(keras.layers.Conv2D(2, 3), neuron, keras.layers.Flatten(), keras.layers.Dense(2)))
    assert expected in message


def test_per_step_biases_are_refused_and_all_problems_are_listed():
    neuron = IntegrateAndFire(timesteps=2, calibration_weights={"step_bias": "step_current"}, name="stepped")
    model = _model(
        keras.layers.Conv2D(2, 3),
        neuron,
        keras.layers.Flatten(),
        keras.layers.Dense(2, activation="relu", name="act"),
    )
    neuron.step_bias.assign(np.ones((2, 2), "float32"))
    message = _refusal(model)
    assert "2 problems" in message and "'stepped' (IntegrateAndFire): its calibrated per-step biases" in message
    assert "'act' (Dense): its activation 'relu'" in message


def test_zero_per_step_biases_and_zero_bias_currents_export():
    model = _model(
        keras.layers.Conv2D(2, 3),
        IntegrateAndFire(timesteps=3, calibrated_steps=3, calibrated_bias=True),
        keras.layers.Flatten(),
        keras.layers.Dense(2),
    )
    assert export_nir(model).nodes


def test_bias_current_without_a_single_driver_is_refused():
    inputs = keras.Input((6, 6, 2))
    a, b = keras.layers.Conv2D(2, 3)(inputs), keras.layers.Conv2D(2, 3)(inputs)
    neuron = IntegrateAndFire(calibrated_bias=True, name="biased")
    x = neuron(keras.layers.Add()([a, b]))
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(x)), name="m")
    neuron.bias_current.assign([0.5, 0.0])
    assert "'biased' (IntegrateAndFire): its calibrated bias current can only be folded" in _refusal(model)


def test_layers_without_nir_equivalent_are_refused():
    model = _model(
        keras.layers.Conv2D(2, 3),
        IntegrateAndFire(),
        keras.layers.AveragePooling2D(3, padding="same", name="ap"),
        keras.layers.Flatten(),
        keras.layers.Dense(2),
        keras.layers.Dense(2, activation="relu", name="act"),
    )
    message = _refusal(model)
    assert "'ap' (AveragePooling2D): padding='same' average pooling" in message
    assert "'act' (Dense): its activation 'relu'" in message
    concat = keras.Model(*(lambda i: (i, keras.layers.Concatenate(name="cat")([i, i])))(keras.Input((4,))))
    assert "'cat' (Concatenate): NIR has no concatenation node" in _refusal(concat)


def test_import_refuses_unknown_primitives_and_cycles():
    lif = nir.LIF(tau=np.ones(2), r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2))
    graph = nir.NIRGraph.from_list(nir.Input(input_type=np.array([2])), lif, nir.Output(output_type=np.array([2])))
    with pytest.raises(NIRConversionError, match=r"node 'lif' \(LIF\): spkeras has no equivalent"):
        import_nir(graph)
    reset = nir.IF(r=np.ones(2), v_threshold=np.ones(2), v_reset=np.full(2, 0.5))
    graph = nir.NIRGraph.from_list(nir.Input(input_type=np.array([2])), reset, nir.Output(output_type=np.array([2])))
    with pytest.raises(NIRConversionError, match=r"v_reset ≠ 0"):
        import_nir(graph)
    with pytest.raises(ValueError, match="NIR file not found"):
        import_nir("no-such-file.nir")


def test_missing_nir_gives_the_install_command(monkeypatch):
    import spkeras
    from spkeras.nir import common

    monkeypatch.setitem(sys.modules, "nir", None)
    with pytest.raises(ImportError, match=r'pip install "spkeras\[nir\]"'):
        common.require_nir()
    with pytest.raises(ImportError, match=r'pip install "spkeras\[nir\]"'):
        spkeras.export_nir(_model(keras.layers.Flatten(), keras.layers.Dense(2)))
