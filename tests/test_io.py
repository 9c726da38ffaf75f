import os

import keras
import numpy as np
import pytest

import spkeras
from tests.models import tiny_cnn, tiny_inputs


def test_loads_legacy_h5_and_keras(tmp_path):
    model = tiny_cnn()
    x = tiny_inputs(3)
    for name in ("model.keras", "model.h5"):
        path = tmp_path / name
        model.save(path)
        loaded = spkeras.load_model(path)
        np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


def test_bundled_demo_model_is_a_legacy_h5():
    import h5py

    with h5py.File(spkeras.demo.DEMO_MODEL_PATH, "r") as handle:
        assert "model_config" in handle.attrs
    model = spkeras.load_model(spkeras.demo.DEMO_MODEL_PATH)
    assert model.outputs[0].shape == (None, 10)


def test_missing_file(tmp_path):
    with pytest.raises(ValueError, match="not found"):
        spkeras.load_model(tmp_path / "nope.h5")


def test_unknown_extension(tmp_path):
    path = tmp_path / "model.txt"
    path.write_text("hello")
    with pytest.raises(ValueError, match="Unknown model file type"):
        spkeras.load_model(path)


@pytest.mark.parametrize("name", ["corrupt.h5", "corrupt.keras"])
def test_corrupt_file(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"\x89HDF garbage" * 10)
    with pytest.raises(ValueError, match="Could not load"):
        spkeras.load_model(path)


def test_weights_only_h5_is_not_a_model(tmp_path):
    path = tmp_path / "only.weights.h5"
    tiny_cnn().save_weights(path)
    with pytest.raises(ValueError, match=str(path.name)):
        spkeras.load_model(path)


def test_bad_path_type():
    with pytest.raises(TypeError, match="Received"):
        spkeras.load_model(42)


def test_save_model_is_atomic_and_checks_suffix(tmp_path):
    model = tiny_cnn()
    with pytest.raises(ValueError, match=".keras"):
        spkeras.save_model(model, tmp_path / "model.h5")
    path = spkeras.save_model(model, tmp_path / "model.keras")
    assert path.is_file()
    assert sorted(os.listdir(tmp_path)) == ["model.keras"]
    assert isinstance(keras.saving.load_model(path), keras.Model)


def test_failed_save_leaves_no_file(tmp_path, monkeypatch):
    model = tiny_cnn()

    def broken_save(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(model, "save", broken_save)
    with pytest.raises(RuntimeError):
        spkeras.save_model(model, tmp_path / "model.keras")
    assert os.listdir(tmp_path) == []
