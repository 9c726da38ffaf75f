"""Atomic writes, untrusted model files and resource limits (tests only; see issue 19).

- Every file spkeras writes (``save_model``, CLI ``-o``, ``--json``, ``--plot``) is complete or absent: a writer
  that fails mid-way (disk full) or is interrupted (Ctrl-C) leaves no partial or temporary file and keeps the
  previous file byte for byte.
- A ``.h5`` or ``.keras`` file with a ``Lambda`` layer whose function writes a marker file is refused by
  ``spkeras.load_model`` (and the CLI) with the reason and the opt-in spelled out, and the marker never appears.
- An absurd number of time steps gets a clear error or warning instead of running for hours (slow, isolated).
"""

from __future__ import annotations

import json
import os
import pathlib

import h5py
import keras
import numpy as np
import pytest

import spkeras
from spkeras import cli
from spkeras.cli.constants import EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_OK, EXIT_REFUSED
from tests.keras_session import _clean_keras_session  # noqa: F401  (cheap per-test Keras reset)

PREVIOUS = b"previous complete file\n"


def _disk_full(*_args, **_kwargs):
    raise OSError(28, "No space left on device")


def _partial_then(error: BaseException):
    """A writer that writes a few bytes to its target and then raises ``error`` (mid-way failure)."""

    def writer(*args, **_kwargs):
        # Patched onto a method, the first argument is the object itself: the target is the first path given.
        targets = [arg for arg in args if isinstance(arg, (str, os.PathLike))]
        targets += [arg.name for arg in args if hasattr(arg, "write") and isinstance(getattr(arg, "name", None), str)]
        path = pathlib.Path(targets[0])
        assert path.is_absolute(), f"the writer would write into the working directory: {path}"
        with open(path, "wb") as handle:
            handle.write(b"PK\x03\x04 half-written")
        raise error

    return writer


FAILURES = [
    pytest.param(OSError(28, "No space left on device"), id="disk-full"),
    pytest.param(KeyboardInterrupt(), id="ctrl-c"),
]


def _leftovers(folder: pathlib.Path, keep: set[str]) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


@pytest.fixture
def tiny(tmp_path):
    """A tiny ANN file, its calibration/test data and a converted SNN file."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6,))
    hidden = keras.layers.Dense(5, activation="relu")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(3)(hidden), name="tiny")
    ann = tmp_path / "ann.keras"
    model.save(ann)
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 1, (12, 6)).astype("float32"), rng.integers(0, 3, 12)
    data = tmp_path / "data.npz"
    np.savez(data, x=x, y=y)
    snn = spkeras.convert(model, x, timesteps=4)
    snn_path = tmp_path / "snn.keras"
    spkeras.save_model(snn, snn_path)
    out = tmp_path / "out"
    out.mkdir()
    return {"model": model, "ann": ann, "data": data, "snn": snn, "snn_path": snn_path, "x": x, "y": y, "out": out}


# --- save_model ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("error", FAILURES)
@pytest.mark.parametrize("previous", [True, False], ids=["over-a-previous-file", "new-file"])
def test_save_model_failing_mid_way_leaves_nothing_partial(tiny, monkeypatch, error, previous):
    target = tiny["out"] / "snn.keras"
    if previous:
        target.write_bytes(PREVIOUS)
    monkeypatch.setattr(keras.Model, "save", _partial_then(error))
    with pytest.raises(type(error)):
        spkeras.save_model(tiny["snn"], target)
    if previous:
        assert target.read_bytes() == PREVIOUS
    else:
        assert not target.exists()
    assert _leftovers(tiny["out"], {"snn.keras"}) == []


def test_save_model_replaces_a_previous_file_completely(tiny):
    target = tiny["out"] / "snn.keras"
    target.write_bytes(PREVIOUS)
    spkeras.save_model(tiny["snn"], target)
    assert spkeras.load_model(target).count_params() == tiny["snn"].count_params()
    assert _leftovers(tiny["out"], {"snn.keras"}) == []


def test_save_model_with_overwrite_false_refuses_an_existing_file_untouched(tiny):
    target = tiny["out"] / "snn.keras"
    target.write_bytes(PREVIOUS)
    with pytest.raises(ValueError, match=r"already exists\. Received: path='.*snn\.keras', overwrite=False\. Pass"):
        spkeras.save_model(tiny["snn"], target, overwrite=False)
    assert target.read_bytes() == PREVIOUS
    assert _leftovers(tiny["out"], {"snn.keras"}) == []


def test_save_model_with_overwrite_false_writes_a_new_file(tiny):
    target = tiny["out"] / "new.keras"
    spkeras.save_model(tiny["snn"], target, overwrite=False)
    assert spkeras.load_model(target).count_params() == tiny["snn"].count_params()


def test_save_model_overwrite_must_be_a_bool(tiny):
    with pytest.raises(TypeError, match=r"Received: overwrite='no'"):
        spkeras.save_model(tiny["snn"], tiny["out"] / "snn.keras", overwrite="no")


# --- the command line ----------------------------------------------------------------------------------------


def _one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr
    assert lines and lines[-1].startswith("spkeras: error:") and len(lines) == 1, lines
    return lines[-1]


@pytest.mark.parametrize("error", FAILURES)
def test_cli_convert_output_failing_mid_way_keeps_the_previous_file(tiny, monkeypatch, capsys, error):
    target = tiny["out"] / "snn.keras"
    target.write_bytes(PREVIOUS)
    monkeypatch.setattr(keras.Model, "save", _partial_then(error))
    argv = ["convert", str(tiny["ann"]), "--calibration", str(tiny["data"]), "-o", str(target), "-T", "4", "--quiet"]
    status = cli.main(argv)
    stderr = capsys.readouterr().err
    if isinstance(error, KeyboardInterrupt):
        assert status == EXIT_INTERRUPTED and "spkeras: interrupted" in stderr
    else:
        assert status == EXIT_BAD_INPUT
        assert "No space left on device" in _one_error_line(stderr)
    assert target.read_bytes() == PREVIOUS
    assert _leftovers(tiny["out"], {"snn.keras"}) == []


@pytest.mark.parametrize("error", FAILURES)
def test_cli_json_report_failing_mid_way_keeps_the_previous_file(tiny, monkeypatch, capsys, error):
    target = tiny["out"] / "result.json"
    target.write_bytes(PREVIOUS)
    original = pathlib.Path.write_text

    def half_then_fail(self, text, *args, **kwargs):
        if self.suffix == ".json":
            original(self, text[: len(text) // 2], *args, **kwargs)
            raise error
        return original(self, text, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "write_text", half_then_fail)
    argv = ["evaluate", str(tiny["snn_path"]), "--data", str(tiny["data"]), "-T", "4", "--quiet", "--json", str(target)]
    status = cli.main(argv)
    stderr = capsys.readouterr().err
    assert status == (EXIT_INTERRUPTED if isinstance(error, KeyboardInterrupt) else EXIT_BAD_INPUT)
    if not isinstance(error, KeyboardInterrupt):
        _one_error_line(stderr)
    assert target.read_bytes() == PREVIOUS
    assert _leftovers(tiny["out"], {"result.json"}) == []


@pytest.mark.parametrize("error", FAILURES)
def test_cli_plot_failing_mid_way_keeps_the_previous_file(tiny, monkeypatch, capsys, error):
    pytest.importorskip("matplotlib")
    import matplotlib.figure

    target = tiny["out"] / "accuracy.png"
    target.write_bytes(PREVIOUS)
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", lambda self, name, **kw: _partial_then(error)(name))
    argv = ["evaluate", str(tiny["snn_path"]), "--data", str(tiny["data"]), "-T", "4", "--quiet", "--plot", str(target)]
    status = cli.main(argv)
    stderr = capsys.readouterr().err
    assert status == (EXIT_INTERRUPTED if isinstance(error, KeyboardInterrupt) else EXIT_BAD_INPUT)
    if not isinstance(error, KeyboardInterrupt):
        _one_error_line(stderr)
    assert target.read_bytes() == PREVIOUS
    assert _leftovers(tiny["out"], {"accuracy.png"}) == []


def test_cli_json_and_plot_written_completely(tiny, capsys):
    pytest.importorskip("matplotlib")
    report, plot = tiny["out"] / "result.json", tiny["out"] / "accuracy.svg"
    report.write_bytes(PREVIOUS)
    argv = ["evaluate", str(tiny["snn_path"]), "--data", str(tiny["data"]), "-T", "4", "--quiet"]
    assert cli.main(argv + ["--json", str(report), "--plot", str(plot)]) == 0
    assert json.loads(report.read_text())["timesteps"] == 4
    assert plot.read_text().rstrip().endswith("</svg>")
    assert _leftovers(tiny["out"], {"result.json", "accuracy.svg"}) == []


# --- untrusted files -----------------------------------------------------------------------------------------


def _lambda_model(marker: pathlib.Path) -> keras.Model:
    """A model whose Lambda (a Python lambda: saved as bytecode in both formats) writes ``marker`` when run."""
    path = str(marker)
    touch = lambda tensor: (__import__("pathlib").Path(path).write_text("code ran"), tensor)[1]  # noqa: E731
    return keras.Sequential([keras.Input((3,)), keras.layers.Lambda(touch), keras.layers.Dense(2)], name="trap")


@pytest.fixture(params=[".h5", ".keras"])
def trap(request, tmp_path):
    marker = tmp_path / "MARKER"
    path = tmp_path / f"trap{request.param}"
    _lambda_model(marker).save(path)
    marker.unlink()  # building the model ran the function once; the file must not run it again
    return path, marker


def test_lambda_file_is_refused_without_running_code(trap):
    path, marker = trap
    with pytest.raises(ValueError) as caught:
        spkeras.load_model(path)
    message = str(caught.value)
    assert "Lambda" in message and "arbitrary code execution" in message  # the reason
    assert "safe_mode=False" in message  # the opt-in
    assert str(path) in message and "Received" in message
    assert not marker.exists()


def test_lambda_file_is_refused_by_the_cli_without_running_code(trap, capsys):
    path, marker = trap
    assert cli.main(["info", str(path)]) == EXIT_REFUSED  # described from its config, Lambda refused
    assert "REFUSED: a Lambda layer" in capsys.readouterr().out
    assert cli.main(["convert", str(path), "-o", str(path.with_name("snn.keras"))]) == EXIT_BAD_INPUT
    line = _one_error_line(capsys.readouterr().err)
    assert "Lambda" in line and str(path) in line and "--unsafe" in line
    assert not marker.exists()


def test_the_trap_is_armed_when_the_user_opts_in(trap):
    """The crafted files really would run code: with safe_mode=False the marker appears (so the tests above mean
    something)."""
    path, marker = trap
    spkeras.load_model(path, safe_mode=False)
    assert marker.read_text() == "code ran"


def test_unknown_custom_layer_names_custom_objects(tmp_path):
    path = tmp_path / "custom.h5"
    keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="mine")]).save(path)
    with h5py.File(path, "r+") as handle:
        config = json.loads(handle.attrs["model_config"])
        config["config"]["layers"][-1]["class_name"] = "MyCustomLayer"
        handle.attrs["model_config"] = json.dumps(config)
    with pytest.raises(ValueError) as caught:
        spkeras.load_model(path)
    message = str(caught.value)
    assert "MyCustomLayer" in message and "custom_objects" in message and str(path) in message


def test_loading_never_modifies_the_file(trap, tiny):
    for path in (trap[0], tiny["ann"], pathlib.Path(spkeras.demo.DEMO_MODEL_PATH)):
        before, mtime = path.read_bytes(), path.stat().st_mtime_ns
        try:
            spkeras.load_model(path)
        except ValueError:
            pass
        assert path.read_bytes() == before and path.stat().st_mtime_ns == mtime


# --- limits --------------------------------------------------------------------------------------------------

_ABSURD_T = """
import time, warnings
import numpy as np, spkeras
warnings.simplefilter("always")
sample = spkeras.demo.load_sample()
snn = spkeras.convert(spkeras.demo.DEMO_MODEL_PATH, sample["x_calibration"][:50])
print("converted", flush=True)
with warnings.catch_warnings(record=True) as caught:
    try:
        spkeras.evaluate(snn, sample["x_test"][:1], sample["y_test"][:1], timesteps=10**7)
        print("finished", flush=True)
    except ValueError as error:
        print("VALUEERROR", error, flush=True)
    print("WARNINGS", [str(w.message) for w in caught], flush=True)
"""


@pytest.mark.slow
def test_absurd_timesteps_get_an_error_or_a_warning_at_once():
    from tests.fuzz.isolation import run_isolated

    result = run_isolated(_ABSURD_T, timeout=90, memory_limit=4e9)
    warned = "WARNINGS [" in result.stdout and "WARNINGS []" not in result.stdout
    assert result.killed is None and ("VALUEERROR" in result.stdout or warned), (
        f"killed={result.killed} after {result.seconds:.0f} s, peak {result.peak_rss / 2**30:.1f} GiB"
    )


def test_huge_batch_size_on_small_data_is_fine(tiny):
    result = spkeras.evaluate(tiny["snn"], tiny["x"], tiny["y"], timesteps=4, batch_size=10**9)
    assert result.num_images == len(tiny["x"])


def test_absurd_timesteps_are_refused_before_any_work(tiny):
    with pytest.raises(ValueError, match=r"Received: timesteps=10000000\. Pass timesteps <= 1000000"):
        spkeras.evaluate(tiny["snn"], tiny["x"], tiny["y"], timesteps=10**7)
    with pytest.raises(ValueError, match="Received: timesteps=2000000"):
        spkeras.simulate.record(tiny["snn"], tiny["x"], timesteps=2 * 10**6)


def test_a_very_long_run_is_warned_with_its_estimated_cost(tiny):
    from spkeras.simulate import budget, get_simulator

    simulator = get_simulator(tiny["snn"], budget.LONG_TIMESTEPS + 1)  # built, not run
    with pytest.warns(UserWarning, match=r"timesteps=100001 is a very long simulation.*multiply-accumulates"):
        budget.check_simulation(simulator, images=12, batch_size=100)


def test_a_batch_that_cannot_fit_in_memory_is_refused_with_the_size_that_fits(tiny, monkeypatch):
    from spkeras.simulate import budget

    monkeypatch.setattr(budget, "physical_memory", lambda: 4096)
    with pytest.raises(ValueError, match=r"A batch of 12 samples.*Received: batch_size=100.*Pass batch_size <= \d+"):
        spkeras.evaluate(tiny["snn"], tiny["x"], tiny["y"], timesteps=4, batch_size=100)


@pytest.mark.parametrize(
    "command, option, name",
    [
        (["convert", "{ann}", "--calibration", "{data}", "-T", "4", "-o", "{target}"], "-o/--output", "snn.keras"),
        (["evaluate", "{snn}", "--data", "{data}", "-T", "4", "--json", "{target}"], "--json", "report.json"),
    ],
    ids=["convert-o", "evaluate-json"],
)
def test_cli_no_overwrite_refuses_an_existing_output_before_any_work(tiny, capsys, command, option, name):
    target = tiny["out"] / name
    target.write_bytes(PREVIOUS)
    fields = {"ann": tiny["ann"], "data": tiny["data"], "snn": tiny["snn_path"], "target": target}
    argv = [part.format(**fields) for part in command] + ["--quiet", "--no-overwrite"]
    assert cli.main(argv) == EXIT_BAD_INPUT
    captured = capsys.readouterr()
    line = _one_error_line(captured.err)
    assert f"{option} already exists and --no-overwrite was given. Received: {option}='{target}'." in line
    assert captured.out == ""  # refused before anything ran
    assert target.read_bytes() == PREVIOUS


def test_cli_replaces_an_existing_output_by_default(tiny, capsys):
    target = tiny["out"] / "snn.keras"
    target.write_bytes(PREVIOUS)
    argv = ["convert", str(tiny["ann"]), "--calibration", str(tiny["data"]), "-T", "4", "-o", str(target), "--quiet"]
    assert cli.main(argv) == EXIT_OK
    assert spkeras.load_model(target).count_params() == tiny["snn"].count_params()
