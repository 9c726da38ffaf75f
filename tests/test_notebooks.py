"""Executes the example notebooks top to bottom with tiny sizes, offline, like papermill would.

Each notebook runs in a fresh kernel started with *this* interpreter (``python -m ipykernel_launcher``), so no
``python -m ipykernel install`` is needed and a stale user-level ``python3`` kernel spec cannot be picked up.
The kernel gets ``SPKERAS_OFFLINE=1``: the notebooks never download anything and fall back to the bundled
MNIST sample and to ``../shared/data/cifar10_subset.npz`` (or a labelled synthetic set when that is absent).
"""

from __future__ import annotations

import json
import pathlib
import sys
import time

import pytest

nbformat = pytest.importorskip("nbformat", reason="needs nbformat (pip install nbformat nbclient ipykernel)")
nbclient = pytest.importorskip("nbclient", reason="needs nbclient (pip install nbformat nbclient ipykernel)")
pytest.importorskip("ipykernel", reason="needs ipykernel (pip install nbformat nbclient ipykernel)")

from jupyter_client.kernelspec import KernelSpecManager  # noqa: E402  (installed with nbclient)
from jupyter_client.manager import AsyncKernelManager  # noqa: E402

REPOSITORY = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = REPOSITORY / "notebooks"
CIFAR_SUBSET = REPOSITORY.parent / "shared" / "data" / "cifar10_subset.npz"
CELL_TIMEOUT_S = 300
KERNEL_NAME = "spkeras-test-python"
# TensorFlow's start-up lines on a machine without a GPU (the first three even with TF_CPP_MIN_LOG_LEVEL=3).
TENSORFLOW_NOISE = (
    "absl::InitializeLog",
    "oneDNN custom operations",
    "Could not find cuda drivers",
    "cpu_feature_guard",
    "failed call to cuInit",
)
KERNEL_COMMAND = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]

TINY = {"EPOCHS": 1, "TRAIN_IMAGES": 1000, "TEST_IMAGES": 100, "TIMESTEPS": 16, "FAST": True}
PARAMETERS = {
    "01_quickstart.ipynb": {**TINY, "CALIBRATION_IMAGES": 200},
    "02_methods_comparison.ipynb": {**TINY, "CALIBRATION_IMAGES": 100, "CIFAR_SUBSET_PATH": str(CIFAR_SUBSET)},
    "03_bring_your_own_model.ipynb": {**TINY, "CALIBRATION_IMAGES": 200, "RATE_IMAGES": 20},
    "04_ultra_low_latency.ipynb": {**TINY, "CALIBRATION_IMAGES": 200, "LEVELS": 4},
}
# Text that each notebook must print: proof that it got to the end and did the interesting parts.
EXPECTED_OUTPUT = {
    "01_quickstart.ipynb": ["SNN accuracy", "energy SNN / ANN", "reloaded"],
    "02_methods_comparison.ipynb": ["method", "ecc", "robust", "max"],
    "03_bring_your_own_model.ipynb": ["REFUSED", "Cannot convert layer", "rate error", "all layers convert"],
    "04_ultra_low_latency.ipynb": ["QCFS ANN accuracy", "SNN accuracy at T=4", "same outputs True"],
}
# Files each notebook writes into its working directory.
EXPECTED_FILES = {
    "01_quickstart.ipynb": ["tiny_mnist_cnn.h5", "tiny_mnist_snn.keras"],
    "02_methods_comparison.ipynb": [],
    "03_bring_your_own_model.ipynb": ["residual_cnn.keras", "calibration.npz", "test.npz"],
    "04_ultra_low_latency.ipynb": ["mnist_qcfs.keras"],
}


def _notebook_paths():
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def _kernel_manager_class(directory: pathlib.Path) -> type[AsyncKernelManager]:
    """A kernel manager class whose only kernel spec runs ipykernel with the current interpreter.

    A class, not an instance: nbclient then owns the manager and shuts the kernel down after the run.
    """
    spec_directory = directory / "kernels" / KERNEL_NAME
    spec_directory.mkdir(parents=True)
    spec = {
        # As in Jupyter or on Colab: no TF_CPP_MIN_LOG_LEVEL (the notebooks' first cell sets it), and without
        # PYTEST_CURRENT_TEST, under which ipykernel does not show what C++ code writes to file descriptor 2.
        "argv": ["env", "-u", "TF_CPP_MIN_LOG_LEVEL", "-u", "PYTEST_CURRENT_TEST", *KERNEL_COMMAND],
        "display_name": "spkeras tests",
        "language": "python",
        "env": {
            "SPKERAS_OFFLINE": "1",
            "MPLBACKEND": "module://matplotlib_inline.backend_inline",
            "PYTHONHASHSEED": "0",
        },
    }
    (spec_directory / "kernel.json").write_text(json.dumps(spec))
    specs = KernelSpecManager(kernel_dirs=[str(directory / "kernels")], ensure_native_kernel=False)

    class TestKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs):
            kwargs.setdefault("kernel_spec_manager", specs)
            super().__init__(**kwargs)

    return TestKernelManager


def inject_parameters(notebook, values: dict) -> None:
    """Papermill-style: adds an ``injected-parameters`` cell right after the cell tagged ``parameters``."""
    position = next(
        index
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", [])
    )
    source = "# Parameters injected by tests/test_notebooks.py\n" + "\n".join(
        f"{name} = {value!r}" for name, value in values.items()
    )
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = ["injected-parameters"]
    notebook.cells.insert(position + 1, cell)


def _text_outputs(notebook) -> str:
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                parts.append(output.get("text", ""))
            elif "data" in output:
                parts.append(output["data"].get("text/plain", ""))
    return "".join(parts)


@pytest.mark.parametrize("path", _notebook_paths(), ids=lambda path: path.stem)
def test_notebook_is_stored_clean(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    assert notebook.nbformat == 4
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(not cell.outputs and cell.execution_count is None for cell in code_cells), "strip the outputs"
    install = code_cells[0].source
    assert 'find_spec("spkeras")' in install and '"pip", "install"' in install, "the first code cell installs spkeras"
    assert 'SPKERAS_SOURCE = os.environ.get("SPKERAS_SOURCE", "")' in install, "one named source"
    assert 'os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")' in install, "before TensorFlow starts"
    text = path.read_text(encoding="utf-8")
    assert "github.com" not in text and "<owner>" not in text, "no repository URL that may not exist"
    assert "PyPI (" not in text and "released package" not in text, "there is no release"
    assert "parameters" in code_cells[1].metadata.get("tags", []), "the second code cell holds the parameters"
    assert not any(line.lstrip().startswith(("!", "%")) for cell in code_cells for line in cell.source.splitlines())


def test_all_notebooks_are_tested():
    assert {path.name for path in _notebook_paths()} == set(PARAMETERS)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("name", sorted(PARAMETERS))
def test_notebook_runs_top_to_bottom(name, tmp_path, record_property):
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    inject_parameters(notebook, PARAMETERS[name])
    workdir = tmp_path / "work"
    workdir.mkdir()
    client = nbclient.NotebookClient(
        notebook,
        kernel_manager_class=_kernel_manager_class(tmp_path),
        kernel_name=KERNEL_NAME,
        timeout=CELL_TIMEOUT_S,
        startup_timeout=120,
        resources={"metadata": {"path": str(workdir)}},
    )
    started = time.perf_counter()
    try:
        client.execute()
    finally:
        elapsed = time.perf_counter() - started
        nbformat.write(notebook, tmp_path / name)  # the executed copy, kept by pytest for inspection
    record_property("runtime_s", round(elapsed, 1))
    print(f"{name}: {elapsed:.1f} s")
    text = _text_outputs(notebook)
    for noise in TENSORFLOW_NOISE:
        assert noise not in text, f"{name} shows TensorFlow's start-up line {noise!r}"
    for expected in EXPECTED_OUTPUT[name]:
        assert expected in text, f"{name} did not print {expected!r}"
    assert not any(
        output.get("output_type") == "error" for cell in notebook.cells for output in cell.get("outputs", [])
    )
    for filename in EXPECTED_FILES[name]:
        assert (workdir / filename).is_file(), f"{name} did not write {filename} in its working directory"


def _install_cell(path) -> str:
    notebook = nbformat.read(path, as_version=4)
    return next(cell.source for cell in notebook.cells if cell.cell_type == "code")


INSTALL_CELLS = {path.name: _install_cell(path) for path in _notebook_paths()}


def test_every_notebook_has_the_same_install_cell():
    assert len(set(INSTALL_CELLS.values())) == 1, "keep the notebooks' first code cells identical"


def _run_install_cell(cwd, monkeypatch, *, importable=False, source=None, pip_status=0, installs=True):
    """Runs the install cell with its branches forced, without the network: `subprocess.run` (pip) is faked.

    ``importable``: spkeras is importable before the cell runs; ``source``: the SPKERAS_SOURCE environment
    variable; ``pip_status``: the fake pip's exit status; ``installs``: a successful fake pip makes spkeras
    importable. Returns the pip commands the cell ran, what it printed, and the exception it raised (or None).
    """
    import contextlib
    import importlib.util
    import io
    import subprocess

    commands = []
    state = {"installed": importable}

    def fake_run(command, *args, **kwargs):
        commands.append(command)
        assert "check" not in kwargs, "the cell reports a failed install itself"
        state["installed"] = state["installed"] or (pip_status == 0 and installs)
        return subprocess.CompletedProcess(command, pip_status)

    real_find_spec = importlib.util.find_spec

    def fake_find_spec(name, *args):
        if name == "spkeras" and not state["installed"]:
            return None
        return real_find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", fake_find_spec)
    monkeypatch.setattr(subprocess, "run", fake_run)
    monkeypatch.setattr(sys, "path", list(sys.path))
    if source is None:
        monkeypatch.delenv("SPKERAS_SOURCE", raising=False)
    else:
        monkeypatch.setenv("SPKERAS_SOURCE", source)
    monkeypatch.chdir(cwd)
    output, error = io.StringIO(), None
    with contextlib.redirect_stdout(output):
        try:
            exec(compile(INSTALL_CELLS["01_quickstart.ipynb"], "install-cell", "exec"), {"__name__": "__main__"})
        except ModuleNotFoundError as raised:
            error = raised
    return commands, output.getvalue(), error


PIP = [sys.executable, "-m", "pip", "install", "-q"]


@pytest.fixture
def unset_tf_log_level(monkeypatch):
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)


def test_install_cell_does_nothing_when_spkeras_is_importable(monkeypatch, tmp_path, unset_tf_log_level):
    commands, output, error = _run_install_cell(tmp_path, monkeypatch, importable=True, source="ignored.whl")
    assert (commands, output, error) == ([], "", None)


def test_install_cell_quiets_tensorflow_unless_the_user_chose_a_level(monkeypatch, tmp_path, unset_tf_log_level):
    import os

    _run_install_cell(tmp_path, monkeypatch, importable=True)
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3"
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")
    _run_install_cell(tmp_path, monkeypatch, importable=True)
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0"


@pytest.mark.parametrize(
    "source", ["dist/spkeras-0.1.0-py3-none-any.whl", "git+https://example.invalid/spkeras.git", "/content/spkeras"]
)
def test_install_cell_installs_spkeras_source_first(source, monkeypatch, unset_tf_log_level):
    # Inside the clone too: the named source wins over the clone.
    commands, output, error = _run_install_cell(NOTEBOOKS, monkeypatch, source=source)
    assert error is None and commands == [[*PIP, source]]
    assert f"installing it from SPKERAS_SOURCE={source}" in output


def test_install_cell_installs_the_clone_it_sits_in(monkeypatch, unset_tf_log_level):
    commands, output, error = _run_install_cell(NOTEBOOKS, monkeypatch)
    assert error is None and commands == [[*PIP, "-e", str(REPOSITORY)]]
    assert f"the clone this notebook sits in, {REPOSITORY}" in output and str(REPOSITORY) in sys.path


def test_install_cell_installs_the_one_wheel_in_the_working_folder(monkeypatch, tmp_path, unset_tf_log_level):
    (tmp_path / "spkeras-0.1.0-py3-none-any.whl").write_bytes(b"")
    commands, output, error = _run_install_cell(tmp_path, monkeypatch)
    assert error is None and commands == [[*PIP, "spkeras-0.1.0-py3-none-any.whl"]]
    assert "the wheel spkeras-0.1.0-py3-none-any.whl in the working folder" in output


def test_install_cell_refuses_to_guess_between_wheels(monkeypatch, tmp_path, unset_tf_log_level):
    for version in ("0.1.0", "0.2.0"):
        (tmp_path / f"spkeras-{version}-py3-none-any.whl").write_bytes(b"")
    commands, output, error = _run_install_cell(tmp_path, monkeypatch)
    assert commands == [] and error is not None
    assert "several wheels" in str(error) and "Set SPKERAS_SOURCE" in str(error)


def test_install_cell_without_any_source_says_what_to_do(monkeypatch, tmp_path, unset_tf_log_level):
    commands, output, error = _run_install_cell(tmp_path, monkeypatch)
    assert commands == [] and output == "" and error is not None
    message = str(error)
    assert "not on a package index yet" in message and str(tmp_path) in message
    for fix in ("upload the wheel", "python -m build", "set SPKERAS_SOURCE", "git URL", "inside a clone"):
        assert fix in message, fix


@pytest.mark.parametrize("pip_status, installs", [(1, False), (0, False)])
def test_install_cell_reports_a_failed_install(pip_status, installs, monkeypatch, tmp_path, unset_tf_log_level):
    commands, output, error = _run_install_cell(
        tmp_path, monkeypatch, source="missing.whl", pip_status=pip_status, installs=installs
    )
    assert commands == [[*PIP, "missing.whl"]] and error is not None
    assert f"from SPKERAS_SOURCE=missing.whl failed (pip's exit status {pip_status}" in str(error)
    assert "set SPKERAS_SOURCE to another one" in str(error)


def test_install_cell_starts_tensorflow_without_its_start_up_lines(tmp_path):
    """The whole cell in a fresh interpreter where spkeras is importable and TensorFlow not yet imported."""
    import os
    import subprocess

    script = tmp_path / "cell.py"
    script.write_text(
        INSTALL_CELLS["01_quickstart.ipynb"] + "\nprint(sorted({'tensorflow', 'spkeras'} & set(sys.modules)))\n"
    )
    environment = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    environment["PYTHONPATH"] = os.pathsep.join([str(REPOSITORY), environment.get("PYTHONPATH", "")])
    completed = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=300
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert completed.stdout.strip() == "['tensorflow']", completed.stdout  # imported here, nothing installed
    assert not [noise for noise in TENSORFLOW_NOISE if noise in completed.stderr], completed.stderr
