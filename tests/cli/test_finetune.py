"""``spkeras finetune`` and converting its output without calibration data."""

import numpy as np

import spkeras
from spkeras import cli


def _files(tmp_path):
    sample = spkeras.demo.load_sample()
    train, test = tmp_path / "train.npz", tmp_path / "test.npz"
    np.savez(train, x=sample["x_calibration"][:200], y=sample["y_calibration"][:200])
    np.savez(test, x=sample["x_test"][:100], y=sample["y_test"][:100])
    return train, test


def test_finetune_then_convert_without_calibration(tmp_path, capsys):
    train, test = _files(tmp_path)
    tuned, snn = tmp_path / "tuned.keras", tmp_path / "snn.keras"
    model = str(spkeras.demo.DEMO_MODEL_PATH)
    assert cli.main(["finetune", model, "--data", str(train), "--epochs", "1", "-o", str(tuned), "--quiet"]) == 0
    assert "QCFS (L=4, 1 epochs" in capsys.readouterr().out
    loaded = spkeras.load_model(tuned)
    assert sum(type(layer).__name__ == "QuantizedClipFloorShift" for layer in loaded.layers) == 2
    assert cli.main(["convert", str(tuned), "-T", "4", "-o", str(snn), "--data", str(test), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "method=qcfs" in out and "ANN accuracy" in out
    neurons = [layer for layer in spkeras.load_model(snn).layers if hasattr(layer, "step")]
    assert [layer.v_init for layer in neurons] == [0.5, 0.5]


def test_finetune_argument_errors_are_one_line(tmp_path, capsys):
    train, _ = _files(tmp_path)
    model = str(spkeras.demo.DEMO_MODEL_PATH)
    assert cli.main(["finetune", model, "--data", str(train), "--levels", "0", "-o", str(tmp_path / "t.keras")]) == 2
    assert cli.main(["finetune", model, "--data", str(train), "-o", str(tmp_path / "t.h5")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("spkeras: error:") for line in lines)
    assert not (tmp_path / "t.keras").exists()
