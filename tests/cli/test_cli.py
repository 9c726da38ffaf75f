import json

import numpy as np
import pytest

from spkeras import cli
from tests.model_zoo import tiny_cnn, tiny_inputs


@pytest.fixture
def files(tmp_path):
    model = tiny_cnn()
    model_path = tmp_path / "cnn.h5"
    model.save(model_path)
    x = tiny_inputs(30)
    y = np.argmax(model.predict(x, verbose=0), -1)
    np.savez(tmp_path / "calibration.npz", x=x)
    np.savez(tmp_path / "test.npz", x_test=x, y_test=y)
    return tmp_path, model_path


def test_convert_then_evaluate_with_json_and_plot(files, capsys):
    folder, model_path = files
    output = folder / "snn.keras"
    code = cli.main(
        [
            "convert",
            str(model_path),
            "--calibration",
            str(folder / "calibration.npz"),
            "--method",
            "robust",
            "-T",
            "32",
            "-o",
            str(output),
            "--option",
            "percentile=99.5",
            "--option",
            "spike_value=threshold",
            "--quiet",
        ]
    )
    assert code == 0 and output.is_file()
    code = cli.main(
        [
            "evaluate",
            str(output),
            "--data",
            str(folder / "test.npz"),
            "-T",
            "32",
            "--json",
            str(folder / "r.json"),
            "--plot",
            str(folder / "acc.png"),
            "--quiet",
        ]
    )
    assert code == 0
    report = json.loads((folder / "r.json").read_text())
    assert len(report["accuracy"]) == 32 and report["accuracy"][-1] >= 0.9
    assert report["metrics"]["synaptic_operations"] > 0
    assert (folder / "acc.png").stat().st_size > 1000
    assert "SNN accuracy" in capsys.readouterr().out


def test_info_lists_layers_and_refusals(tmp_path, capsys):
    import keras

    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="tanh", name="squash")(inputs))
    path = tmp_path / "m.keras"
    model.save(path)
    assert cli.main(["info", str(path)]) == 1
    output = capsys.readouterr().out
    assert "squash" in output and "REFUSED" in output and "tanh" in output
    good = tmp_path / "good.h5"
    tiny_cnn().save(good)
    assert cli.main(["info", str(good)]) == 0
    assert "all layers convert" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["convert", "missing.h5", "--calibration", "c.npz", "-o", "o.keras"], "not found"),
        (["evaluate", "missing.keras", "--data", "d.npz"], "not found"),
        (["info", "missing.h5"], "not found"),
    ],
)
def test_bad_input_gives_one_line_error(argv, fragment, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("spkeras: error:") and fragment in error and "\n" not in error


def test_convert_refuses_bad_output_and_writes_nothing(files, capsys):
    folder, model_path = files
    code = cli.main(
        [
            "convert",
            str(model_path),
            "--calibration",
            str(folder / "calibration.npz"),
            "-o",
            str(folder / "snn.h5"),
            "--quiet",
        ]
    )
    assert code == 2 and not (folder / "snn.h5").exists()


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    help_text = capsys.readouterr().out
    for command in ("convert", "evaluate", "info", "demo"):
        assert command in help_text


def test_convert_option_values_are_typed(files):
    import keras

    from spkeras.layers import IntegrateAndFire

    folder, model_path = files
    output = folder / "snn.keras"
    argv = ["convert", str(model_path), "--calibration", str(folder / "calibration.npz"), "-o", str(output)]
    argv += ["--method", "ecc", "--option", "amp_factor=10", "--option", "spike_value=threshold", "--quiet"]
    assert cli.main(argv) == 0
    neurons = [layer for layer in keras.saving.load_model(output).layers if isinstance(layer, IntegrateAndFire)]
    assert {layer.spike_value for layer in neurons} == {"threshold"}
