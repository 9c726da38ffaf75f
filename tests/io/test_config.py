"""spkeras.io.list_layers / read_model_config: a file's layers read as data (a Lambda is listed, never run);
a missing file is a FileNotFoundError; a file with a model config never gets the "weights only" hint."""

import json
import subprocess
import sys

import h5py
import keras
import pytest

import spkeras
from spkeras.errors import ModelFileNotFoundError
from spkeras.io import LayerEntry, list_layers, read_model_config


def _lambda_model(marker):
    path = str(marker)
    touch = lambda tensor: (__import__("pathlib").Path(path).write_text("code ran"), tensor)[1]  # noqa: E731
    return keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(4, name="first"), keras.layers.Lambda(touch, name="trap")], name="m"
    )


@pytest.mark.parametrize("suffix", [".h5", ".keras"])
def test_list_layers_reports_a_lambda_without_running_it(tmp_path, suffix):
    marker = tmp_path / "MARKER"
    path = tmp_path / f"lambda{suffix}"
    _lambda_model(marker).save(path)
    marker.unlink()
    entries = list_layers(path)
    assert LayerEntry("trap", "Lambda") in entries and LayerEntry("first", "Dense") in entries
    assert not marker.exists()


def test_list_layers_names_layers_of_nested_models(tmp_path):
    inner = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="inner_dense")], name="inner")
    inputs = keras.Input((3,), name="x")
    model = keras.Model(inputs, keras.layers.Dense(1, name="head")(inner(inputs)), name="outer")
    path = tmp_path / "nested.keras"
    model.save(path)
    names = [entry.name for entry in list_layers(path)]
    assert "inner/inner_dense" in names and "head" in names and "inner" in names


def test_read_model_config_of_the_demo_model():
    config = read_model_config(spkeras.demo.DEMO_MODEL_PATH)
    assert config["class_name"] == "Sequential" and config["config"]["layers"]


def test_missing_file_is_a_file_not_found_error_and_a_value_error(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"not found.*missing\.h5") as caught:
        spkeras.load_model(tmp_path / "missing.h5")
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, ModelFileNotFoundError)
    with pytest.raises(FileNotFoundError):
        list_layers(tmp_path / "missing.keras")


def test_a_model_config_keras_cannot_rebuild_never_gets_the_weights_only_hint(tmp_path):
    path = tmp_path / "odd.h5"
    keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="d")]).save(path)
    with h5py.File(path, "r+") as handle:
        config = json.loads(handle.attrs["model_config"])
        config["config"]["layers"][-1]["config"]["units"] = "two"  # a config no Keras can build
        handle.attrs["model_config"] = json.dumps(config)
    with pytest.raises(ValueError) as caught:
        spkeras.load_model(path)
    message = str(caught.value)
    assert "weights only" not in message and "list_layers" in message and str(path) in message


def test_import_spkeras_io_and_listing_layers_import_neither_keras_nor_tensorflow():
    code = (
        "import sys, spkeras.io\n"
        "entries = spkeras.io.list_layers(spkeras.demo.DEMO_MODEL_PATH)\n"
        "print(len(entries) > 2, 'keras' in sys.modules, 'tensorflow' in sys.modules)\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert completed.stdout.split() == ["True", "False", "False"]


def test_the_command_line_wording_of_a_custom_layer(tmp_path):
    path = tmp_path / "custom.h5"
    keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="mine")]).save(path)
    with h5py.File(path, "r+") as handle:
        config = json.loads(handle.attrs["model_config"])
        config["config"]["layers"][-1]["class_name"] = "MyCustomLayer"
        handle.attrs["model_config"] = json.dumps(config)
    with pytest.raises(ValueError) as caught:
        spkeras.load_model(path, argument="MODEL", command_line=True)
    message = str(caught.value)
    assert "command line cannot load" in message and f"MODEL='{path}'" in message
