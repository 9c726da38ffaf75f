"""Issue 28 (CLI items) and issue 27 (``--max-pooling``), through the real entry point ``spkeras.cli.main``."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import spkeras
from spkeras import cli
from tests.model_zoo import tiny_cnn, tiny_inputs

PYTHON_SPELLINGS = ("x_calibration", "calibrate=", "max_pooling=", "help(", "Use None", "custom_objects")


def _pooling_cnn() -> keras.Model:
    keras.utils.set_random_seed(3)
    inputs = keras.Input((10, 10, 2))
    x = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    x = keras.layers.Flatten()(x)
    return keras.Model(inputs, keras.layers.Dense(3)(x), name="pooling_cnn")


@pytest.fixture
def files(tmp_path):
    tiny_cnn().save(tmp_path / "cnn.h5")
    _pooling_cnn().save(tmp_path / "pool.keras")
    x = tiny_inputs(12)
    np.savez(tmp_path / "calibration.npz", x=x)
    np.savez(tmp_path / "test.npz", x=x, y=np.arange(12) % 3)
    return tmp_path


def _error(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("spkeras: error:"), captured.err
    return lines[0]


def test_qcfs_on_a_plain_relu_model_is_refused_with_the_fix(files, capsys):
    argv = ["convert", str(files / "cnn.h5"), "--calibration", str(files / "calibration.npz"), "--method", "qcfs"]
    assert cli.main([*argv, "-T", "4", "-o", str(files / "snn.keras"), "--quiet"]) == 2
    error = _error(capsys)
    assert "spkeras finetune" in error and "prepare_for_conversion" in error and "Received: --method qcfs" in error
    assert not (files / "snn.keras").exists()
    # A fine-tuned (QCFS) model converts with --method qcfs and needs no calibration data.
    spkeras.save_model(spkeras.prepare_for_conversion(tiny_cnn(), levels=4), files / "qcfs.keras")
    argv = ["convert", str(files / "qcfs.keras"), "--method", "qcfs", "-T", "4", "-o", str(files / "snn.keras")]
    assert cli.main([*argv, "--quiet"]) == 0
    assert "method=qcfs" in capsys.readouterr().out
    # The demo's CNN has no QCFS activations either.
    assert cli.main(["demo", "--method", "qcfs", "--quiet"]) == 2
    assert "spkeras finetune" in _error(capsys)


@pytest.fixture
def lambda_file(tmp_path):
    marker = tmp_path / "MARKER"
    path = str(marker)
    touch = lambda tensor: (__import__("pathlib").Path(path).write_text("ran"), tensor * 2)[1]  # noqa: E731
    model = keras.Sequential([keras.Input((3,)), keras.layers.Lambda(touch, name="double"), keras.layers.Dense(2)])
    model.save(tmp_path / "lambda.keras")
    marker.unlink()
    return tmp_path / "lambda.keras", marker


def test_info_reports_a_lambda_layer_as_unsupported_without_running_it(lambda_file, capsys):
    path, marker = lambda_file
    assert cli.main(["info", str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.err == "" and not marker.exists()
    lines = captured.out.splitlines()
    assert "read from the file's config" in lines[0]
    assert "double" in lines[1] and "REFUSED: a Lambda layer is Python code" in lines[1]
    assert "type converts (settings not checked" in lines[2] and "--unsafe" in lines[2]
    assert lines[-1] == "1 layer(s) cannot be converted"


def test_unsafe_loads_a_trusted_lambda_file(lambda_file, capsys):
    path, marker = lambda_file
    assert cli.main(["info", str(path), "--unsafe"]) == 1
    out = capsys.readouterr().out
    assert marker.exists(), "--unsafe loads the model (its code runs)"
    assert "input (3,)" in out and "dense" in out and " converts" in out and "REFUSED" in out


def test_other_commands_refuse_a_lambda_file_naming_unsafe(lambda_file, capsys):
    path, marker = lambda_file
    assert cli.main(["convert", str(path), "-o", str(path.with_name("snn.keras"))]) == 2
    error = _error(capsys)
    assert "Lambda layer ('double')" in error and "--unsafe" in error and "not weights only" not in error
    assert not marker.exists()


@pytest.mark.parametrize(
    "extra, fragments",
    [
        ([], ["add --calibration FILE.npz", "Received: MODEL="]),
        (["--calibration", "{calibration}", "--calibrate", "None"], ["Received: --calibrate None", "none, "]),
        (["--calibration", "{calibration}", "--method", "Ecc"], ["Received: --method Ecc", "ecc"]),
        (["--calibration", "{test}", "--option", "nonsense=1"], ["nonsense", "docs/methods/ecc.md"]),
        (["--calibration", "{calibration}", "--max-pooling", "error"], ["Received:", "--max-pooling spiking"]),
        (["--calibration", "{calibration}", "--max-pooling", "error", "--option", "max_pooling=average"], ["give one"]),
    ],
)
def test_convert_errors_speak_the_command_line(files, capsys, extra, fragments):
    fields = {"calibration": files / "calibration.npz", "test": files / "test.npz"}
    argv = ["convert", str(files / "pool.keras"), "-o", str(files / "snn.keras"), "--quiet"]
    assert cli.main(argv + [part.format(**fields) for part in extra]) == 2
    error = _error(capsys)
    assert all(fragment in error for fragment in fragments), error
    assert error.count("Received") == 1, error
    python_words = error.replace("--option max_pooling=", "--option ")  # the command line's own spelling
    assert not any(spelling in python_words for spelling in PYTHON_SPELLINGS), error


def test_data_errors_name_the_file_and_option(files, capsys):
    np.savez(files / "nan.npz", x=np.full((3, 10, 10, 2), np.nan, "float32"))
    argv = ["convert", str(files / "cnn.h5"), "--calibration", str(files / "nan.npz"), "-o", str(files / "s.keras")]
    assert cli.main(argv) == 2
    assert f"--calibration '{files / 'nan.npz'}': `x` contains 600 NaN" in _error(capsys)
    np.savez(files / "labels.npz", x=tiny_inputs(3), y=[0, 1, 9])
    argv = ["convert", str(files / "cnn.h5"), "--calibration", str(files / "calibration.npz"), "-T", "4"]
    assert cli.main([*argv, "-o", str(files / "snn.keras"), "--quiet"]) == 0
    capsys.readouterr()
    evaluate = ["evaluate", str(files / "snn.keras"), "--data"]
    assert cli.main([*evaluate, str(files / "labels.npz"), "--quiet"]) == 2
    assert f"--data '{files / 'labels.npz'}': `y` labels must lie in [0, 3]" in _error(capsys)
    assert cli.main([*evaluate, str(files / "test.npz"), "-T", str(10**7), "--quiet"]) == 2
    error = _error(capsys)
    assert "Received: -T 10000000. Pass -T <= 1000000." in error and "timesteps=" not in error


def test_max_pooling_option_reaches_convert_and_warnings_are_one_line(files, capsys):
    argv = ["convert", str(files / "pool.keras"), "--calibration", str(files / "calibration.npz"), "-T", "4"]
    output = files / "snn.keras"
    assert cli.main([*argv, "-o", str(output), "--max-pooling", "average"]) == 0
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if "warning" in line.lower()]
    assert warnings == [line for line in err.splitlines() if line.startswith("spkeras: warning: MaxPooling2D")]
    assert len(warnings) == 1 and "--max-pooling spiking" in warnings[0], err
    assert "UserWarning" not in err and "warnings.warn" not in err and ".py:" not in err
    layers = spkeras.load_model(output).layers
    assert any(isinstance(layer, keras.layers.AveragePooling2D) for layer in layers)
    # --quiet silences warnings (and progress bars).
    assert cli.main([*argv, "-o", str(output), "--max-pooling", "average", "--quiet"]) == 0
    assert capsys.readouterr().err == ""
    # The default keeps gated spiking max pooling.
    assert cli.main([*argv, "-o", str(output), "--quiet"]) == 0
    layers = spkeras.load_model(output).layers
    assert not any(isinstance(layer, keras.layers.AveragePooling2D) for layer in layers)


def test_progress_bars_name_their_phase(files, capsys):
    argv = ["convert", str(files / "cnn.h5"), "--calibration", str(files / "calibration.npz"), "-T", "2"]
    argv += ["-o", str(files / "snn.keras"), "--calibrate", "light", "--data", str(files / "test.npz")]
    assert cli.main(argv) == 0
    captured = capsys.readouterr()
    phases = [line.split(":")[0] for line in captured.err.splitlines() if "100% done" in line]
    assert phases == ["statistics", "calibration threshold", "calibration bias", "ANN accuracy", "simulation (T=2)"]
    # convert --data prints the same tables as evaluate --ann: accuracy per step, then the cost per image.
    assert "ANN - SNN" in captured.out and "cost per image over 2 steps:" in captured.out
