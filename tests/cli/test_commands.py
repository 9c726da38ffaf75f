"""The ``spkeras`` command as a user runs it: subprocesses of the installed console script.

Checked here: exit codes, results on stdout and everything else on stderr, no TensorFlow start-up noise, no
ANSI escape sequences when the output is not a terminal, no partial files, file modes, and the behaviour
without the optional matplotlib (simulated with a ``sitecustomize`` shim that makes ``import matplotlib``
fail as if it were not installed).
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import stat
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.model_zoo import tiny_cnn, tiny_inputs

SCRIPT = pathlib.Path(sys.executable).with_name("spkeras")
COMMAND = [str(SCRIPT)] if SCRIPT.is_file() else [sys.executable, "-m", "spkeras"]
TENSORFLOW_NOISE = re.compile(
    r"^[IWEF]\d{4} |cuInit|cudart|cuda drivers|oneDNN|absl::InitializeLog|cpu_feature_guard|TF_ENABLE_ONEDNN_OPTS",
    re.MULTILINE,
)
ANSI = re.compile(r"\x1b\[")
BLOCK_MATPLOTLIB = '''
import sys

class _BlockMatplotlib:
    """Makes `import matplotlib` fail as if matplotlib were not installed."""

    def find_spec(self, name, path=None, target=None):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, _BlockMatplotlib())
'''


def run(*args, cwd, block_matplotlib: bool = False, env: dict | None = None, timeout: float = 300):
    """Runs ``spkeras ARGS`` with TensorFlow's log level left unset, as in a user's fresh shell."""
    environment = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    environment.update(env or {})
    if block_matplotlib:
        shim = pathlib.Path(cwd) / "_no_matplotlib"
        shim.mkdir(exist_ok=True)
        (shim / "sitecustomize.py").write_text(BLOCK_MATPLOTLIB)
        environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(shim), environment.get("PYTHONPATH")]))
    return subprocess.run(
        [*COMMAND, *map(str, args)], cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout
    )


def _assert_clean(completed, code: int = 0):
    details = f"exit {completed.returncode}\nstdout:\n{completed.stdout[-3000:]}\nstderr:\n{completed.stderr[-3000:]}"
    assert completed.returncode == code, details
    assert not TENSORFLOW_NOISE.search(completed.stderr), details
    assert not TENSORFLOW_NOISE.search(completed.stdout), details
    assert not ANSI.search(completed.stdout), details
    assert "Traceback" not in completed.stderr, details


def _assert_one_line_error(completed, fragment: str):
    _assert_clean(completed, 2)
    assert completed.stdout == "", completed.stdout
    error = completed.stderr.strip()
    assert error.startswith("spkeras: error:") and "\n" not in error and fragment in error, completed.stderr


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A tiny CNN (.h5), calibration and test data, and the SNN converted from them (in this process)."""
    import keras

    import spkeras

    keras.utils.set_random_seed(0)
    folder = tmp_path_factory.mktemp("cli")
    model = tiny_cnn()
    model.save(folder / "cnn.h5")
    x = tiny_inputs(40)
    np.savez(folder / "calibration.npz", x=x)
    np.savez(folder / "test.npz", x_test=x, y_test=np.argmax(model.predict(x, verbose=0), -1))
    spkeras.save_model(spkeras.convert(model, x, timesteps=16), folder / "snn.keras")
    return folder


def _files(folder) -> list[str]:
    return sorted(p.name for p in pathlib.Path(folder).iterdir() if not p.name.startswith("_"))


def test_help_and_version_answer_fast_without_tensorflow(tmp_path):
    for arguments in (["--help"], ["--version"], ["evaluate", "--help"]):
        started = time.perf_counter()
        completed = run(*arguments, cwd=tmp_path)
        elapsed = time.perf_counter() - started
        _assert_clean(completed)
        assert completed.stderr == ""
        assert elapsed < 3.0, f"spkeras {' '.join(arguments)} took {elapsed:.2f} s"
    code = (
        "import sys\nfrom spkeras import cli\n"
        "for argv in (['--help'], ['--version'], ['convert', '--help']):\n"
        "    try:\n        cli.main(argv)\n    except SystemExit:\n        pass\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'imported TensorFlow'\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr


def test_version_matches_the_package(tmp_path):
    import spkeras

    assert run("--version", cwd=tmp_path).stdout.strip() == f"spkeras {spkeras.__version__}"


def test_evaluate_writes_results_to_stdout_and_complete_files_with_the_umask_mode(workdir, tmp_path):
    result, plot = tmp_path / "result.json", tmp_path / "accuracy.svg"
    completed = run(
        "evaluate",
        "snn.keras",
        "--data",
        "test.npz",
        "-T",
        "8",
        "--ann",
        "cnn.h5",
        "--json",
        result,
        "--plot",
        plot,
        cwd=workdir,
    )
    _assert_clean(completed)
    # progress goes to stderr, as plain lines (no ANSI codes, no carriage returns) when it is not a terminal
    assert "40/40 images 100% done in" in completed.stderr, completed.stderr
    assert not ANSI.search(completed.stderr) and "\r" not in completed.stderr, completed.stderr
    lines = completed.stdout.splitlines()
    assert lines[0] == "ANN accuracy: 1.0000"
    assert lines[1].split() == ["t", "SNN", "accuracy", "ANN", "-", "SNN", "spikes/image"]
    assert [line.split()[0] for line in lines[2:6]] == ["1", "2", "4", "8"]
    assert lines[6] == "cost per image over 8 steps:"
    assert lines[-2:] == [f"wrote {result}", f"wrote {plot}"]
    report = json.loads(result.read_text())
    assert report["timesteps"] == 8 and report["ann_accuracy"] == 1.0 and len(report["conversion_loss"]) == 8
    assert plot.read_text().rstrip().endswith("</svg>")
    expected = 0o666 & ~_umask()
    for path in (result, plot):
        assert stat.S_IMODE(path.stat().st_mode) == expected, (path, oct(path.stat().st_mode))
    assert _files(tmp_path) == ["accuracy.svg", "result.json"]


@pytest.mark.slow
def test_convert_as_a_command(workdir, tmp_path):
    output = tmp_path / "snn.keras"
    completed = run("convert", "cnn.h5", "--calibration", "calibration.npz", "-T", "16", "-o", output, cwd=workdir)
    _assert_clean(completed)
    assert completed.stdout.strip() == f"converted cnn.h5 with method=ecc percentile=99.9 -> {output}"
    assert stat.S_IMODE(output.stat().st_mode) == 0o666 & ~_umask()
    assert _files(tmp_path) == ["snn.keras"]


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_plot_without_matplotlib_stops_before_any_work(workdir, tmp_path):
    started = time.perf_counter()
    completed = run(
        "evaluate",
        "snn.keras",
        "--data",
        "test.npz",
        "--json",
        tmp_path / "r.json",
        "--plot",
        tmp_path / "a.png",
        cwd=workdir,
        block_matplotlib=True,
    )
    elapsed = time.perf_counter() - started
    _assert_one_line_error(completed, "matplotlib")
    assert "pip install" in completed.stderr
    assert _files(tmp_path) == [], "wrote something before failing"
    assert elapsed < 3.0, f"took {elapsed:.1f} s: it should fail before importing TensorFlow"


@pytest.mark.slow
def test_everything_but_plot_works_without_matplotlib(workdir, tmp_path):
    completed = run(
        "evaluate",
        "snn.keras",
        "--data",
        "test.npz",
        "-T",
        "4",
        "--json",
        tmp_path / "r.json",
        "--quiet",
        cwd=workdir,
        block_matplotlib=True,
    )
    _assert_clean(completed)
    assert (tmp_path / "r.json").is_file()
    info = run("info", "cnn.h5", cwd=workdir, block_matplotlib=True)
    _assert_clean(info)
    assert info.stdout.strip().endswith("all layers convert")


@pytest.mark.parametrize(
    "arguments, fragment",
    [
        (["evaluate", "snn.keras", "--data", "test.npz", "--plot", "a.jpg"], "--plot must end in .png, .pdf or .svg"),
        (["evaluate", "snn.keras", "--data", "test.npz", "--json", "nowhere/r.json"], "does not exist"),
        (["evaluate", "missing.keras", "--data", "test.npz"], "Model file not found"),
        (["evaluate", "snn.keras", "--data", "missing.npz"], "Data file not found"),
        (["convert", "cnn.h5", "--calibration", "calibration.npz", "-o", "out.h5"], "must end in .keras"),
        (["info", "calibration.npz"], "Unknown model file type"),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_exit_2(workdir, arguments, fragment):
    before = _files(workdir)
    _assert_one_line_error(run(*arguments, cwd=workdir), fragment)
    assert _files(workdir) == before


def test_usage_errors_exit_2(workdir):
    completed = run("evaluate", "snn.keras", "--data", "test.npz", "-T", "zero", cwd=workdir)
    assert completed.returncode == 2 and completed.stdout == "" and "usage:" in completed.stderr


@pytest.mark.slow
def test_info_exit_codes(workdir):
    import keras

    inputs = keras.Input((4,))
    keras.Model(inputs, keras.layers.Dense(2, activation="tanh", name="squash")(inputs)).save(workdir / "tanh.keras")
    refused = run("info", "tanh.keras", cwd=workdir)
    _assert_clean(refused, 1)
    assert "REFUSED" in refused.stdout and refused.stderr == ""
    _assert_clean(run("info", "cnn.h5", cwd=workdir), 0)
    _assert_one_line_error(run("info", "nope.h5", cwd=workdir), "not found")


@pytest.mark.slow
def test_user_set_log_level_is_respected(workdir):
    completed = run("info", "cnn.h5", cwd=workdir, env={"TF_CPP_MIN_LOG_LEVEL": "0"})
    assert completed.returncode == 0
    # TensorFlow's own start-up lines (if this build prints any) reach the user unfiltered.
    bare = subprocess.run(
        [sys.executable, "-c", "import tensorflow as tf; tf.zeros(())"],
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "0"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    if TENSORFLOW_NOISE.search(bare.stderr):
        assert TENSORFLOW_NOISE.search(completed.stderr), completed.stderr


def test_demo_is_clean_and_explains_a_dip(tmp_path):
    completed = run("demo", "-T", "8", "--calibrate", "none", "--quiet", cwd=tmp_path)
    _assert_clean(completed)
    assert completed.stderr == ""
    out = completed.stdout
    assert out.startswith("spkeras demo: bundled MNIST CNN, 1000 test images, method=ecc, calibrate=none")
    assert "ANN accuracy: 0.9880" in out and "ANN - SNN" in out
    assert "note: the dip from t = 2 to t = 4 is low-T quantisation" in out and "--calibrate advanced" in out
    assert _files(tmp_path) == []


def _warning_arguments(folder) -> list:
    """Converting a model with max pooling (a Python warning) whose ReLUs never fire (a logged warning)."""
    import keras

    inputs = keras.Input((10, 10, 2))
    dead = keras.layers.Conv2D(4, 3, activation="relu", bias_initializer=keras.initializers.Constant(-100.0))
    x = keras.layers.MaxPooling2D(2, name="pool")(dead(inputs))
    keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(x))).save(folder / "pool.keras")
    arguments = ["convert", folder / "pool.keras", "--calibration", "calibration.npz", "-T", "4"]
    return [*arguments, "--max-pooling", "average", "-o", folder / "snn.keras"]


def test_warnings_are_one_line_and_progress_bars_name_their_phase(workdir, tmp_path):
    completed = run(*_warning_arguments(tmp_path), cwd=workdir)
    _assert_clean(completed)
    lines = completed.stderr.splitlines()
    assert len(lines) == 3, completed.stderr
    assert lines[0].startswith("spkeras: warning: MaxPooling2D layer 'pool' is replaced"), completed.stderr
    assert "--max-pooling spiking" in lines[0] and "UserWarning" not in completed.stderr
    assert lines[1].startswith("statistics: 40/40 images 100% done in")  # the progress bar names its phase
    assert lines[2].startswith("spkeras: warning: Neuron site") and "never activated" in lines[2]  # a logged warning


@pytest.mark.slow
def test_quiet_silences_warnings_and_logged_warnings(workdir, tmp_path):
    quiet = run(*_warning_arguments(tmp_path), "--quiet", cwd=workdir)
    _assert_clean(quiet)
    assert quiet.stderr == "" and quiet.stdout.startswith("converted ")
