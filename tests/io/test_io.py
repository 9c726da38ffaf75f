"""spkeras.io: precise load errors naming the file, atomic saves, and file modes that follow the umask."""

import os
import pathlib
import stat
import subprocess
import sys
import zipfile

import keras
import numpy as np
import pytest

import spkeras
from spkeras import io
from tests.model_zoo import tiny_cnn, tiny_inputs


@pytest.fixture
def umask():
    """Sets the process umask for one test and restores it afterwards."""
    previous = os.umask(0o022)
    os.umask(previous)

    def set_mask(mask: int) -> None:
        os.umask(mask)

    yield set_mask
    os.umask(previous)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


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
    with pytest.raises(ValueError, match="not found.*nope.h5"):
        spkeras.load_model(tmp_path / "nope.h5")


def test_folder_is_not_a_model(tmp_path):
    folder = tmp_path / "model.keras"
    folder.mkdir()
    with pytest.raises(ValueError, match="folder, not a file"):
        spkeras.load_model(folder)


def test_unknown_extension(tmp_path):
    path = tmp_path / "model.txt"
    path.write_text("hello")
    with pytest.raises(ValueError, match="Unknown model file type"):
        spkeras.load_model(path)


def _keras_bytes(tmp_path) -> bytes:
    path = tmp_path / "source.keras"
    tiny_cnn().save(path)
    return path.read_bytes()


def _h5_bytes(tmp_path) -> bytes:
    path = tmp_path / "source.h5"
    tiny_cnn().save(path)
    return path.read_bytes()


@pytest.mark.parametrize(
    "name, content, fragment",
    [
        ("empty.keras", lambda tmp: b"", "empty"),
        ("empty.h5", lambda tmp: b"", "empty"),
        ("text.keras", lambda tmp: b"this is not a model\n" * 20, "not a .keras file"),
        ("text.h5", lambda tmp: b"this is not a model\n" * 20, "not an HDF5 file"),
        ("truncated.keras", lambda tmp: _keras_bytes(tmp)[:3000], "truncated"),
        ("truncated.h5", lambda tmp: _h5_bytes(tmp)[:3000], "truncated"),
        ("zip.h5", _keras_bytes, "rename it to .keras"),
        ("hdf5.keras", _h5_bytes, "rename it to .h5"),
        ("corrupt.h5", lambda tmp: b"\x89HDF garbage" * 10, "not an HDF5 file"),
    ],
)
def test_unreadable_files_get_a_precise_message_naming_the_file(tmp_path, name, content, fragment):
    path = tmp_path / name
    path.write_bytes(content(tmp_path))
    with pytest.raises(ValueError) as info:
        spkeras.load_model(path)
    message = str(info.value)
    assert message.startswith("Could not load a Keras model from"), message
    assert fragment in message and str(path) in message and "path=" in message, message
    assert "File not found" not in message


def test_zip_without_a_model(tmp_path):
    path = tmp_path / "archive.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "not a model")
    with pytest.raises(ValueError, match="no config.json"):
        spkeras.load_model(path)


def test_weights_only_h5_is_not_a_model(tmp_path):
    path = tmp_path / "only.weights.h5"
    tiny_cnn().save_weights(path)
    with pytest.raises(ValueError, match=r"weights only.*only\.weights\.h5"):
        spkeras.load_model(path)


def test_check_model_file_names_the_argument(tmp_path):
    with pytest.raises(ValueError, match=r"Received: --ann='.*missing\.h5'"):
        io.check_model_file(tmp_path / "missing.h5", argument="--ann")


def test_bad_path_type():
    with pytest.raises(TypeError, match="Received"):
        spkeras.load_model(42)


def test_load_model_reads_a_converted_model_after_a_bare_import(tmp_path):
    """A fresh interpreter: `import spkeras` alone, then spkeras.load_model of a spiking .keras file."""
    sample = spkeras.demo.load_sample()
    snn = spkeras.convert(spkeras.demo.DEMO_MODEL_PATH, sample["x_calibration"][:100], timesteps=8)
    path = spkeras.save_model(snn, tmp_path / "snn.keras")
    code = "import sys, spkeras; print([type(layer).__name__ for layer in spkeras.load_model(sys.argv[1]).layers])"
    completed = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "IntegrateAndFire" in completed.stdout


def test_save_model_is_atomic_and_checks_suffix(tmp_path):
    model = tiny_cnn()
    with pytest.raises(ValueError, match=".keras"):
        spkeras.save_model(model, tmp_path / "model.h5")
    with pytest.raises(ValueError, match="folder"):
        spkeras.save_model(model, tmp_path / "missing" / "model.keras")
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


def test_failed_save_keeps_the_previous_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "model.keras"
    model = tiny_cnn()
    spkeras.save_model(model, path)
    before = path.read_bytes()

    def half_written(target, *args, **kwargs):
        pathlib.Path(target).write_bytes(b"PK\x03\x04 half")
        raise OSError("disk full")

    monkeypatch.setattr(model, "save", half_written)
    with pytest.raises(OSError):
        spkeras.save_model(model, path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["model.keras"]


@pytest.mark.parametrize("mask, expected", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_saved_model_mode_follows_the_umask(tmp_path, umask, mask, expected):
    umask(mask)
    path = spkeras.save_model(tiny_cnn(), tmp_path / "model.keras")
    assert _mode(path) == expected
    assert io.current_umask() == mask


@pytest.mark.parametrize("mask, expected", [(0o022, 0o644), (0o077, 0o600)])
def test_write_text_is_atomic_with_the_umask_mode(tmp_path, umask, mask, expected):
    umask(mask)
    path = io.write_text(tmp_path / "result.json", '{"a": 1}')
    assert path.read_text() == '{"a": 1}' and _mode(path) == expected
    assert os.listdir(tmp_path) == ["result.json"]


def test_atomic_output_removes_the_temporary_file_on_error(tmp_path):
    with pytest.raises(RuntimeError):
        with io.atomic_output(tmp_path / "plot.png") as temporary:
            assert temporary.suffix == ".png" and temporary.parent == tmp_path
            temporary.write_bytes(b"partial")
            raise RuntimeError("interrupted")
    assert os.listdir(tmp_path) == []
