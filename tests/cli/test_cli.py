import json
import os
import stat
import sys

import numpy as np
import pytest

from spkeras import cli
from spkeras.cli import constants, output, parser, startup
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


# ---------------------------------------------------------------------------------------------------------
# Issue 20: every argument checked before any work, ANN baseline, consistent model-loading messages.


@pytest.fixture
def converted(files):
    folder, model_path = files
    output = folder / "snn.keras"
    argv = ["convert", str(model_path), "--calibration", str(folder / "calibration.npz"), "-o", str(output)]
    assert cli.main([*argv, "-T", "16", "--quiet"]) == 0
    return folder, model_path, output


@pytest.fixture
def no_work(monkeypatch):
    """Makes converting or simulating fail loudly: a test using it proves an error came before any work."""
    import spkeras
    import spkeras.conversion

    def refuse(*args, **kwargs):
        raise AssertionError("the command started working before checking its arguments")

    monkeypatch.setattr(sys.modules["spkeras.conversion"], "convert", refuse)
    monkeypatch.setattr(spkeras, "convert", refuse)
    monkeypatch.setattr(spkeras, "evaluate", refuse)
    monkeypatch.setattr(sys.modules["spkeras.simulate"], "evaluate", refuse)


def _one_line_error(capsys) -> str:
    captured = capsys.readouterr()
    error = captured.err.strip()
    assert error.startswith("spkeras: error:") and "\n" not in error, captured.err
    assert "Traceback" not in captured.err
    return error


@pytest.mark.parametrize(
    "output, fragment",
    [
        ("snn.h5", "must end in .keras"),
        ("missing/snn.keras", "does not exist"),
        ("folder.keras", "is a folder"),
    ],
)
def test_convert_checks_the_output_before_any_work(files, no_work, capsys, output, fragment):
    folder, model_path = files
    (folder / "folder.keras").mkdir()
    argv = ["convert", str(model_path), "--calibration", str(folder / "calibration.npz"), "-o", str(folder / output)]
    assert cli.main(argv) == 2
    assert fragment in _one_line_error(capsys)
    assert not (folder / "snn.h5").exists() and not (folder / "missing").exists()


@pytest.mark.parametrize(
    "extra, fragment",
    [
        (["--json", "result.txt"], "--json must end in .json"),
        (["--json", "missing/result.json"], "does not exist"),
        (["--plot", "accuracy.jpg"], "--plot must end in .png, .pdf or .svg"),
        (["--plot", "missing/accuracy.png"], "does not exist"),
        (["--ann", "missing.h5"], "Received: --ann="),
        (["--limit", "0"], "--limit must be a positive integer"),
        (["-T", "-3"], "-T/--timesteps must be a positive integer"),
        (["--batch-size", "x"], None),
    ],
)
def test_evaluate_checks_every_output_before_any_work(converted, no_work, capsys, monkeypatch, extra, fragment):
    folder, _, snn_path = converted
    monkeypatch.chdir(folder)
    argv = ["evaluate", str(snn_path), "--data", str(folder / "test.npz"), "--quiet", *extra]
    if fragment is None:  # an argparse usage error
        with pytest.raises(SystemExit) as info:
            cli.main(argv)
        assert info.value.code == 2
        return
    assert cli.main(argv) == 2
    assert fragment in _one_line_error(capsys)
    assert sorted(p.name for p in folder.iterdir()) == ["calibration.npz", "cnn.h5", "snn.keras", "test.npz"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into read-only folders")
def test_unwritable_output_folder(converted, no_work, capsys):
    folder, _, snn_path = converted
    locked = folder / "locked"
    locked.mkdir(mode=0o555)
    argv = ["evaluate", str(snn_path), "--data", str(folder / "test.npz"), "--json", str(locked / "r.json")]
    assert cli.main(argv) == 2
    assert "not writable" in _one_line_error(capsys)


def test_plot_without_matplotlib_fails_before_any_work(converted, no_work, capsys, monkeypatch):
    import builtins

    folder, _, snn_path = converted
    real_import = builtins.__import__

    def blocking_import(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ModuleNotFoundError("No module named 'matplotlib'", name="matplotlib")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", blocking_import)
    monkeypatch.delitem(sys.modules, "matplotlib", raising=False)
    argv = ["evaluate", str(snn_path), "--data", str(folder / "test.npz"), "--json", str(folder / "r.json")]
    assert cli.main([*argv, "--plot", str(folder / "a.png")]) == 2
    error = _one_line_error(capsys)
    assert "matplotlib" in error and "pip install" in error
    assert not (folder / "r.json").exists() and not (folder / "a.png").exists()


@pytest.mark.parametrize("suffix", [".png", ".pdf", ".svg"])
def test_plot_formats_follow_the_extension(converted, capsys, suffix):
    folder, model_path, snn_path = converted
    plot = folder / f"accuracy{suffix}"
    argv = ["evaluate", str(snn_path), "--data", str(folder / "test.npz"), "-T", "8", "--quiet", "--plot", str(plot)]
    assert cli.main([*argv, "--ann", str(model_path)]) == 0
    head = plot.read_bytes()[:64]
    assert {".png": b"\x89PNG", ".pdf": b"%PDF", ".svg": b"<?xml"}[suffix] in head
    assert f"wrote {plot}" in capsys.readouterr().out


def test_evaluate_reports_the_ann_baseline_and_loss(converted, capsys):
    folder, model_path, snn_path = converted
    report_path = folder / "r.json"
    argv = ["evaluate", str(snn_path), "--data", str(folder / "test.npz"), "-T", "16", "--quiet"]
    assert cli.main([*argv, "--ann", str(model_path), "--json", str(report_path)]) == 0
    out = capsys.readouterr().out
    assert "ANN accuracy: 1.0000" in out and "ANN - SNN" in out and "cost per image over 16 steps" in out
    report = json.loads(report_path.read_text())
    assert report["ann_accuracy"] == 1.0 and report["chance_accuracy"] == 0.25
    assert report["model"] == str(snn_path) and report["ann_model"] == str(model_path)
    assert report["conversion_loss"] == pytest.approx([1.0 - a for a in report["accuracy"]])
    assert report["metrics"]["synaptic_operations"] > 0


def test_evaluate_without_ann_has_no_loss_column(converted, capsys):
    folder, _, snn_path = converted
    report_path = folder / "r.json"
    argv = ["evaluate", str(snn_path), "--data", str(folder / "test.npz"), "-T", "4", "--quiet"]
    assert cli.main([*argv, "--json", str(report_path)]) == 0
    out = capsys.readouterr().out
    assert "SNN accuracy" in out and "ANN - SNN" not in out
    report = json.loads(report_path.read_text())
    assert report["ann_accuracy"] is None and report["conversion_loss"] is None


def test_ann_and_snn_cannot_be_swapped(converted, capsys):
    folder, model_path, snn_path = converted
    data = ["--data", str(folder / "test.npz"), "--quiet"]
    assert cli.main(["evaluate", str(model_path), *data]) == 2
    assert "not a converted spiking model" in _one_line_error(capsys)
    assert cli.main(["evaluate", str(snn_path), *data, "--ann", str(snn_path)]) == 2
    assert "--ann must be the source ANN" in _one_line_error(capsys)


def test_convert_with_data_measures_ann_and_snn(files, capsys):
    folder, model_path = files
    argv = ["convert", str(model_path), "--calibration", str(folder / "calibration.npz"), "-o", str(folder / "s.keras")]
    assert cli.main([*argv, "--data", str(folder / "test.npz"), "-T", "8", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "ANN accuracy: 1.0000" in out and "ANN - SNN" in out and out.count("\n") >= 6


def test_unknown_method_is_one_line(files, capsys):
    folder, model_path = files
    argv = ["convert", str(model_path), "--calibration", str(folder / "calibration.npz"), "-o", str(folder / "s.keras")]
    assert cli.main([*argv, "--method", "nonsense"]) == 2
    error = _one_line_error(capsys)
    assert "nonsense" in error and "ecc" in error


def _bad_model_files(folder):
    """A missing file, a text file named .keras and .h5, and a truncated .keras."""
    good = folder / "good.keras"
    tiny_cnn().save(good)
    (folder / "text.keras").write_text("not a model\n" * 10)
    (folder / "text.h5").write_text("not a model\n" * 10)
    (folder / "truncated.keras").write_bytes(good.read_bytes()[:2000])
    return ["missing.keras", "text.keras", "text.h5", "truncated.keras"]


def test_every_command_reports_a_bad_model_file_in_the_same_words(files, capsys, monkeypatch):
    folder, _ = files
    monkeypatch.chdir(folder)
    for name in _bad_model_files(folder):
        commands = {
            "info": ["info", name],
            "convert": ["convert", name, "--calibration", "calibration.npz", "-o", "out.keras"],
            "evaluate": ["evaluate", name, "--data", "test.npz"],
        }
        messages = {}
        for command, argv in commands.items():
            assert cli.main(argv) == 2, (command, name)
            messages[command] = _one_line_error(capsys)
        assert len(set(messages.values())) == 1, messages
        message = messages["info"]
        assert f"MODEL='{name}'" in message and "custom_objects" not in message
        expected = {
            "missing.keras": "not found",
            "text.keras": "not a .keras file",
            "text.h5": "not an HDF5 file",
            "truncated.keras": "truncated",
        }[name]
        assert expected in message, message
        assert "File not found" not in message or name == "missing.keras"
    assert not (folder / "out.keras").exists()


def test_failed_json_write_leaves_no_partial_file(converted, capsys, monkeypatch):
    folder, _, snn_path = converted

    def broken_dumps(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(output.json, "dumps", broken_dumps)
    argv = ["evaluate", str(snn_path), "--data", str(folder / "test.npz"), "-T", "4", "--quiet"]
    assert cli.main([*argv, "--json", str(folder / "r.json")]) == 2
    assert "disk full" in _one_line_error(capsys)
    assert not any(p.name.startswith((".r", "r.json")) for p in folder.iterdir())


def test_outputs_get_the_umask_mode(converted, capsys):
    folder, model_path, snn_path = converted
    mask = os.umask(0o022)
    os.umask(mask)
    expected = 0o666 & ~mask
    argv = ["evaluate", str(snn_path), "--data", str(folder / "test.npz"), "-T", "4", "--quiet"]
    assert cli.main([*argv, "--json", str(folder / "r.json"), "--plot", str(folder / "a.png")]) == 0
    for path in (snn_path, folder / "r.json", folder / "a.png"):
        assert stat.S_IMODE(path.stat().st_mode) == expected, path


def test_info_exit_status_is_documented():
    help_text = parser.build_parser().format_help()
    assert "exit status" in help_text and "1  'info' found layers that cannot be converted" in help_text
    assert "custom_objects" not in help_text


def test_names_in_the_parser_exist_in_the_library():
    from spkeras.layers.encoders import ENCODINGS
    from spkeras.methods import available_methods, get_method

    builtin = sorted(name for name in available_methods() if get_method(name).__module__.startswith("spkeras."))
    assert tuple(constants.METHOD_NAMES) == tuple(builtin)
    assert tuple(constants.ENCODING_NAMES) == tuple(ENCODINGS)


def test_startup_noise_filter():
    noise = [
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n",
        "I0000 00:00:1796226706.141165    3789 port.cc:153] oneDNN custom operations are on.\n",
        "I0000 00:00:1796226706.141373    3789 cudart_stub.cc:31] Could not find cuda drivers on your machine.\n",
        "E0000 00:00:1796227052.383981    6415 cuda_platform.cc:52] failed call to cuInit: INTERNAL: (303)\n",
        "To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild TensorFlow.\n",
    ]
    kept = [
        "E0000 00:00:1796227052.383981    6415 op_kernel.cc:1] something else went wrong\n",
        "Traceback (most recent call last):\n",
        "spkeras: a line of our own\n",
    ]
    assert all(startup.startup_line_is_noise(line) for line in noise)
    assert not any(startup.startup_line_is_noise(line) for line in kept)


def test_calibration_names_exist_in_the_library(files, capsys):
    from spkeras.cli.support import calibration_names

    assert constants.CALIBRATION_NAMES == calibration_names()
    folder, model_path = files
    argv = ["convert", str(model_path), "--calibration", str(folder / "calibration.npz"), "-o", str(folder / "s.keras")]
    assert cli.main([*argv, "--calibrate", "thresholds"]) == 2
    assert "Unknown --calibrate" in _one_line_error(capsys)
    assert not (folder / "s.keras").exists()


@pytest.mark.slow
def test_default_demo_is_calibrated_and_has_no_dip():
    from spkeras.demo import DEFAULT_CALIBRATION, run_demo

    report = run_demo(timesteps=16, calibrate=DEFAULT_CALIBRATION)
    result = report["result"]
    assert report["calibrate"] == "advanced"
    assert output.dip_note(result) is None, result.table()
    assert result.accuracy_at(2) > 0.9 and result.accuracy_at(16) >= 0.97, result.table()


def test_demo_passes_calibration_through(monkeypatch, capsys):
    import numpy as np

    import spkeras.demo
    from spkeras.simulate import SimulationResult

    seen = {}

    def fake_run_demo(**kwargs):
        seen.update(kwargs)
        result = SimulationResult(2, np.array([0.5, 0.9]), ["relu"], np.ones((2, 1)), 10, 0.1)
        return {"method": "ecc", "ann_accuracy": 0.95, "result": result, "conversion_time_s": 0, "simulation_time_s": 0}

    monkeypatch.setattr(spkeras.demo, "run_demo", fake_run_demo)
    assert cli.main(["demo", "-T", "2", "--quiet"]) == 0
    assert seen["calibrate"] == "advanced"
    assert cli.main(["demo", "-T", "2", "--quiet", "--calibrate", "none"]) == 0
    assert seen["calibrate"] is None
    assert "calibrate=none" in capsys.readouterr().out


def test_convert_calibrates_when_asked(files, capsys):
    folder, model_path = files
    argv = ["convert", str(model_path), "--calibration", str(folder / "calibration.npz"), "-o", str(folder / "s.keras")]
    assert cli.main([*argv, "-T", "8", "--calibrate", "light", "--data", str(folder / "test.npz"), "--quiet"]) == 0
    assert "ANN - SNN" in capsys.readouterr().out


def test_custom_layer_message_points_to_the_python_api(tmp_path, capsys):
    import keras

    @keras.saving.register_keras_serializable(package="issue20")
    class Doubler(keras.layers.Layer):
        def call(self, inputs):
            return 2 * inputs

    inputs = keras.Input((4,))
    path = tmp_path / "custom.keras"
    keras.Model(inputs, Doubler()(inputs)).save(path)
    registry = keras.saving.get_custom_objects()
    for key in [key for key in registry if key.startswith("issue20>")]:
        del registry[key]
    assert cli.main(["info", str(path)]) == 2
    error = _one_line_error(capsys)
    assert "command line cannot load" in error and "custom layer" in error and f"MODEL='{path}'" in error


def test_evaluate_event_sequences(converted, capsys):
    folder, model_path, snn_path = converted
    with np.load(folder / "test.npz") as data:
        x, y = data["x_test"], data["y_test"]
    np.savez(folder / "events.npz", x_test=np.repeat(x[:, None], 16, axis=1), y_test=y)
    argv = ["evaluate", str(snn_path), "--data", str(folder / "events.npz"), "-T", "16", "--quiet"]
    report_path = folder / "events.json"
    assert cli.main([*argv, "--encoding", "events", "--json", str(report_path)]) == 0
    assert json.loads(report_path.read_text())["encoding"] == "events"
    capsys.readouterr()
    # The ANN takes one static input, so no baseline can be measured on event sequences.
    assert cli.main([*argv, "--encoding", "events", "--ann", str(model_path)]) == 2
    assert "--ann cannot be measured on event sequences" in _one_line_error(capsys)
    # Static images with encoding events: one line naming the expected shape.
    static = ["evaluate", str(snn_path), "--data", str(folder / "test.npz"), "-T", "16", "--quiet"]
    assert cli.main([*static, "--encoding", "events"]) == 2
    assert "(N, bins)" in _one_line_error(capsys)
