"""spkeras.layers.NeuronSettings: a frozen record that builds every neuron layer of one network."""

import dataclasses
import re

import keras
import pytest

from spkeras.layers import IntegrateAndFire, NeuronSettings, TernaryIntegrateAndFire
from tests.keras_session import _clean_keras_session  # noqa: F401  (no gc.collect per test)


class LeakyIntegrateAndFire(IntegrateAndFire):
    """A variant with its own constructor argument."""

    def __init__(self, leak=1.0, **kwargs):
        super().__init__(**kwargs)
        self.leak = float(leak)

    def charge(self, potential, current):
        return self.leak * potential + current


def test_settings_are_frozen():
    settings = NeuronSettings(IntegrateAndFire)
    for field, value in (("reset", "hard"), ("v_init", 0.5), ("options", {}), ("neuron_class", IntegrateAndFire)):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(settings, field, value)
    assert settings.reset == "soft" and settings.v_init == 0.0


def test_defaults():
    settings = NeuronSettings(IntegrateAndFire)
    assert (settings.reset, settings.v_init, settings.spike_value, settings.timesteps) == ("soft", 0.0, "unit", 64)
    assert dict(settings.options) == {}


def test_options_are_a_read_only_copy():
    options = {"leak": 0.9}
    settings = NeuronSettings(LeakyIntegrateAndFire, options=options)
    with pytest.raises(TypeError):
        settings.options["leak"] = 0.5
    with pytest.raises(TypeError):
        del settings.options["leak"]
    options["leak"] = 0.1  # changing the caller's dict afterwards does not reach the settings
    assert dict(settings.options) == {"leak": 0.9}


def test_make_builds_the_layer_with_every_setting():
    settings = NeuronSettings(IntegrateAndFire, reset="hard", v_init=0.25, spike_value="threshold", timesteps=9)
    layer = settings.make(threshold=[1.0, 2.0], name="site")
    assert type(layer) is IntegrateAndFire and layer.name == "site"
    assert (layer.reset, layer.v_init, layer.spike_value, layer.timesteps) == ("hard", 0.25, "threshold", 9)
    assert layer.threshold_init == [1.0, 2.0]
    other = settings.make(threshold=3.0)
    assert other.threshold_init == 3.0 and other.name != layer.name  # a new layer per call


def test_make_passes_the_options_to_a_subclass():
    settings = NeuronSettings(LeakyIntegrateAndFire, v_init=0.5, timesteps=4, options={"leak": 0.75})
    layer = settings.make(threshold=2.0, name="leaky")
    assert type(layer) is LeakyIntegrateAndFire
    assert layer.leak == 0.75 and layer.threshold_init == 2.0 and layer.v_init == 0.5 and layer.timesteps == 4
    # The option changes the dynamics: one step of current 1 from V0 = 0.5·θ = 1 gives V = 0.75·1 + 1.
    layer.build((None, 1))
    (potential,) = layer.initial_state(1)
    _, (potential,), _ = layer.step(keras.ops.ones((1, 1)), (potential,))
    assert float(potential[0, 0]) == pytest.approx(1.75)


def test_validate_returns_the_settings():
    settings = NeuronSettings(TernaryIntegrateAndFire, reset="soft")
    assert settings.validate() is settings


@pytest.mark.parametrize(
    "changes",
    [{"reset": "sideways"}, {"v_init": 1.0}, {"v_init": -0.1}, {"spike_value": "double"}, {"timesteps": 0}],
)
def test_validate_raises_the_layer_error(changes):
    arguments = {"threshold": 1.0, **changes}
    with pytest.raises(ValueError) as expected:
        IntegrateAndFire(**arguments)
    settings = NeuronSettings(IntegrateAndFire, **changes)  # constructing does not check the values
    with pytest.raises(ValueError) as info:
        settings.validate()
    # Same message as the layer's own, apart from the auto-generated layer name.
    name = "integrate_and_fire"
    assert _without_layer_name(str(info.value), name) == _without_layer_name(str(expected.value), name)
    assert next(iter(changes)) in str(info.value)


def _without_layer_name(message, prefix):
    return re.sub(rf"'{prefix}(_\d+)?'", "'<layer>'", message)


def test_validate_refuses_an_option_the_class_does_not_take():
    with pytest.raises(ValueError, match="leak"):  # Keras's own "Unrecognized keyword arguments" error
        NeuronSettings(IntegrateAndFire, options={"leak": 0.5}).validate()


def test_a_variant_refuses_a_reset_it_does_not_support():
    class SoftOnly(IntegrateAndFire):
        supported_resets = ("soft",)

    with pytest.raises(ValueError, match=r"`reset` must be one of \('soft',\)\. Received: 'hard'"):
        NeuronSettings(SoftOnly, reset="hard").validate()


@pytest.mark.parametrize(
    "neuron_class", [keras.layers.ReLU, "IntegrateAndFire", IntegrateAndFire(), None, int], ids=repr
)
def test_a_class_that_is_not_an_integrate_and_fire_is_refused(neuron_class):
    with pytest.raises(TypeError, match=r"`neuron_class` must be spkeras.layers.IntegrateAndFire or a subclass"):
        NeuronSettings(neuron_class)


def test_replace_returns_a_changed_copy():
    settings = NeuronSettings(LeakyIntegrateAndFire, reset="soft", options={"leak": 0.5})
    changed = settings.replace(spike_value="threshold", timesteps=8)
    assert (changed.spike_value, changed.timesteps, changed.reset) == ("threshold", 8, "soft")
    assert dict(changed.options) == {"leak": 0.5} and changed.neuron_class is LeakyIntegrateAndFire
    assert (settings.spike_value, settings.timesteps) == ("unit", 64)
    with pytest.raises(TypeError):
        settings.replace(colour="red")


def test_settings_compare_by_value():
    settings = NeuronSettings(LeakyIntegrateAndFire, reset="hard", options={"leak": 0.5})
    assert settings == NeuronSettings(LeakyIntegrateAndFire, reset="hard", options={"leak": 0.5})
    assert settings != settings.replace(options={"leak": 0.25})
    assert settings != settings.replace(neuron_class=IntegrateAndFire, options={})


def test_settings_are_hashable():
    settings = NeuronSettings(LeakyIntegrateAndFire, options={"leak": 0.5})
    same = NeuronSettings(LeakyIntegrateAndFire, options={"leak": 0.5})
    assert {settings: "a"}[same] == "a"
