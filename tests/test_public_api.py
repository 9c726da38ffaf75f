"""Pins the public API: a change here is a deliberate API change."""

import re

import spkeras


def test_version_is_a_release_string():
    assert re.fullmatch(r"\d+\.\d+\.\d+", spkeras.__version__)


def test_top_level_names_are_pinned():
    assert sorted(spkeras.__all__) == sorted(
        [
            "SimulationResult",
            "__version__",
            "convert",
            "demo",
            "estimate_closed_form",
            "evaluate",
            "layers",
            "load_model",
            "methods",
            "save_model",
        ]
    )
    for name in spkeras.__all__:
        assert hasattr(spkeras, name), name


def test_submodule_entry_points_exist():
    from spkeras.convert import fold_model, layer_report, register_converter, supported_layer_names
    from spkeras.layers import AugmentedIntegrateAndFire, IntegrateAndFire, TernaryIntegrateAndFire
    from spkeras.methods import ThresholdPolicy, available_methods, get_method, register_method
    from spkeras.metrics import firing_rates, layer_macs, mean_fan_out, summarize
    from spkeras.models import cnn_to_snn
    from spkeras.simulate import record, spike_trains

    assert callable(cnn_to_snn)
    assert {"max", "robust", "ecc", "channelwise", "opi", "termapping", "augmapping"} <= set(available_methods())
    assert all(
        callable(f)
        for f in (
            fold_model,
            layer_report,
            register_converter,
            supported_layer_names,
            get_method,
            register_method,
            firing_rates,
            layer_macs,
            mean_fan_out,
            summarize,
            record,
            spike_trains,
        )
    )
    assert issubclass(TernaryIntegrateAndFire, IntegrateAndFire)
    assert issubclass(AugmentedIntegrateAndFire, IntegrateAndFire)
    assert ThresholdPolicy.__name__ == "ThresholdPolicy"


def test_every_public_callable_has_a_docstring_with_an_example():
    import inspect

    import spkeras.metrics
    import spkeras.simulate

    objects = [spkeras.load_model, spkeras.save_model, spkeras.convert, spkeras.evaluate, spkeras.estimate_closed_form]
    objects += [spkeras.metrics.summarize, spkeras.metrics.layer_macs, spkeras.simulate.record]
    objects += [spkeras.layers.IntegrateAndFire, spkeras.methods.register_method]
    for obj in objects:
        doc = inspect.getdoc(obj) or ""
        assert "Example" in doc, obj
