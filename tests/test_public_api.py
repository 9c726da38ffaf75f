"""Pins the public API: a change here is a deliberate API change."""

import re

import pytest

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
            "export_nir",
            "finetune",
            "import_nir",
            "layers",
            "load_model",
            "methods",
            "predict",
            "prepare_for_conversion",
            "save_model",
        ]
    )
    for name in spkeras.__all__:
        assert hasattr(spkeras, name), name


def test_submodule_entry_points_exist():
    from spkeras.conversion import fold_model, layer_report, register_converter, supported_layer_names
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


def _fresh_python(code: str) -> str:
    import subprocess
    import sys

    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed.stdout


def test_import_spkeras_is_cheap_and_lazy():
    out = _fresh_python(
        "import sys, spkeras\n"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules, 'matplotlib' in sys.modules)\n"
        "print(spkeras.demo.DEMO_MODEL_PATH.name, 'tensorflow' in sys.modules)\n"
    )
    assert out.splitlines() == ["False False False", "demo_mnist_cnn.h5 False"]


@pytest.fixture(scope="module")
def fresh_session() -> dict:
    """One fresh interpreter: `import keras`, `import spkeras`, then the documented names (JSON of what it saw)."""
    import json

    return json.loads(
        _fresh_python(
            "import json, keras\nimport spkeras\n"
            "registered = keras.saving.get_registered_object('spkeras>IntegrateAndFire') is not None\n"
            "names = [spkeras.metrics.summarize, spkeras.metrics.firing_rates, spkeras.simulate.record,\n"
            "         spkeras.simulate.spike_trains, spkeras.plots.plot_accuracy, spkeras.models.cnn_to_snn,\n"
            "         spkeras.evaluate, spkeras.load_model, spkeras.methods.available_methods,\n"
            "         spkeras.layers.IntegrateAndFire, spkeras.io.save_model, spkeras.progress.progress_bar]\n"
            "import spkeras.conversion.registry\nfrom spkeras.conversion import layer_report\n"
            "from spkeras import convert\n"
            "print(json.dumps({'registered': registered, 'callable': all(callable(n) for n in names),\n"
            "    'convert': [callable(spkeras.convert), spkeras.convert is convert, convert.__name__]}))\n"
        )
    )


def test_documented_names_work_right_after_import_spkeras(fresh_session):
    """README: `spkeras.metrics.summarize`, `spkeras.simulate.record`, `spkeras.plots`, ... after `import spkeras`."""
    assert fresh_session["callable"]


def test_convert_stays_the_function_after_importing_the_subpackage(fresh_session):
    assert fresh_session["convert"] == [True, True, "convert"]


def test_keras_first_then_spkeras_registers_the_spiking_layers(fresh_session):
    assert fresh_session["registered"]


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        spkeras.nonexistent  # noqa: B018
    assert {"metrics", "plots", "simulate", "convert", "evaluate"} <= set(dir(spkeras))


def test_plots_import_matplotlib_only_when_drawing():
    out = _fresh_python("import sys, spkeras.plots\nprint('matplotlib' in sys.modules)\n")
    assert out.strip() == "False"
