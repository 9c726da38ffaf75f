"""The wheel a user installs: it ships the license, the demo data and the console script, and the command works
from a (non-editable) install of it, outside the checkout."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_ships_license_data_and_entry_point(tmp_path):
    pytest.importorskip("wheel", reason="building a wheel offline needs the wheel package")
    source = tmp_path / "source"
    source.mkdir()
    for name in ("setup.cfg", "pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "spkeras", source / "spkeras", ignore=shutil.ignore_patterns("__pycache__", "*.tmp"))
    completed = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), "."],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    (wheel,) = tmp_path.glob("spkeras-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert any(name.endswith(".dist-info/LICENSE") or "/licenses/LICENSE" in name for name in names), names
    assert "spkeras/data/demo_mnist_cnn.h5" in names and "spkeras/data/mnist_sample.npz" in names
    assert "spkeras/progress.py" in names
    entry_points = next(name for name in names if name.endswith("entry_points.txt"))
    assert "spkeras = spkeras.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "License: MIT" in metadata or "License-Expression: MIT" in metadata

    # A fresh, non-editable install of that wheel (its dependencies are this environment's), used from elsewhere.
    target = tmp_path / "site"
    completed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target", str(target), str(wheel)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    environment = {**os.environ, "PYTHONPATH": str(target)}
    environment.pop("TF_CPP_MIN_LOG_LEVEL", None)
    where = subprocess.run(
        [sys.executable, "-c", "import spkeras; print(spkeras.__file__)"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert where.stdout.strip().startswith(str(target)), where.stdout + where.stderr
    script = target / "bin" / "spkeras"
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "spkeras"]
    model = target / "spkeras" / "data" / "demo_mnist_cnn.h5"
    info = subprocess.run(
        [*command, "info", str(model)], cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=300
    )
    assert info.returncode == 0 and info.stdout.strip().endswith("all layers convert"), info.stdout + info.stderr
    assert "cuInit" not in info.stderr and "Traceback" not in info.stderr, info.stderr
