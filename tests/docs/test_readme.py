"""The README and the docs say what the code does: the supported layers, the test command, the license, and
the README's ``spkeras`` commands run as written."""

from __future__ import annotations

import configparser
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import sys

import numpy as np
import pytest

from tests.docs import snippets

ROOT = snippets.ROOT
GENERATED_LIST = re.compile(r"<!-- supported-layers -->(?P<names>.*?)<!-- /supported-layers -->", re.DOTALL)
TEST_COMMAND = 'pip install -e ".[test]" && ruff check . && ruff format --check . && pytest'
SCRIPT = pathlib.Path(sys.executable).with_name("spkeras")
COMMAND = [str(SCRIPT)] if SCRIPT.is_file() else [sys.executable, "-m", "spkeras"]


LAYER_LIST_PAGES = ["README.md", "docs/index.md"]


def write_layer_lists() -> None:
    """Rewrites the generated lists of README.md and docs/index.md from the converter registry."""
    import textwrap

    from spkeras.conversion import supported_layer_names

    names = ", ".join(f"`{name}`" for name in supported_layer_names())
    for page in LAYER_LIST_PAGES:
        path = ROOT / page
        text = path.read_text(encoding="utf-8")
        match = GENERATED_LIST.search(text)
        line_start = text.rfind("\n", 0, match.start("names")) + 1
        prefix = text[line_start : match.start("names")]
        indent = " " * (len(prefix) - len(prefix.lstrip()))
        closing = "<!-- /supported-layers -->"
        placeholder = "@" * len(closing)  # one unbreakable word of the marker's width
        body = textwrap.fill(
            names + placeholder,
            width=110,
            initial_indent=" " * len(prefix),
            subsequent_indent=indent,
            break_on_hyphens=False,
        )[len(prefix) :].replace(placeholder, closing)
        path.write_text(text[: match.start("names")] + body + text[match.end() :], encoding="utf-8")


@pytest.fixture(scope="module")
def builtin_layer_names() -> list[str]:
    """supported_layer_names() of a fresh interpreter: converters other tests register here do not count."""
    import json

    code = (
        "import json; from spkeras.conversion import supported_layer_names; print(json.dumps(supported_layer_names()))"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("page", LAYER_LIST_PAGES)
def test_supported_layer_list_is_the_registry(page, builtin_layer_names):
    match = GENERATED_LIST.search((ROOT / page).read_text(encoding="utf-8"))
    assert match, f"{page} has no <!-- supported-layers --> ... <!-- /supported-layers --> list"
    listed = re.findall(r"`(\w+)`", match["names"])
    assert listed == builtin_layer_names, (
        f"{page}'s list of supported layers differs from spkeras.conversion.supported_layer_names(); regenerate it "
        "with: python -m tests.docs.test_readme --write-layer-lists"
    )


def test_refusal_message_points_to_where_the_layers_are_listed():
    import keras

    import spkeras

    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="tanh")(inputs))
    with pytest.raises(ValueError) as info:
        spkeras.convert(model, np.zeros((4, 4), "float32"))
    message = str(info.value)
    assert "spkeras info MODEL" in message and "docs/layers.md" in message
    assert "prepare_for_conversion" in message and len(message) < 600


def test_readme_test_command_runs_lint_and_is_what_ci_runs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"```bash\n{TEST_COMMAND}\n```" in readme
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert ci[-1] == TEST_COMMAND
    assert "set -euo pipefail" in ci


def test_license_matches_setup_cfg_and_ships():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    assert config["metadata"]["license"] == "MIT"
    assert config["metadata"]["license_files"].split() == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License") and "WITHOUT WARRANTY OF ANY KIND" in text


def test_changelog_has_this_release():
    import spkeras

    assert f"## {spkeras.__version__} " in (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")


def _spkeras_commands(path: pathlib.Path) -> list[str]:
    """The ``spkeras ...`` lines of the ```bash blocks of ``path`` (continuations joined, comments dropped)."""
    commands = []
    for block in snippets.blocks(path, "bash"):
        for line in block.code.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            while "&&" in words:  # "pip install -e . && spkeras demo": keep the spkeras part
                words = words[words.index("&&") + 1 :]
            if words and words[0] == "spkeras":
                commands.append(shlex.join(words))
    return commands


def _prepare(folder: pathlib.Path) -> None:
    """The files the documented commands name, made from the bundled model and a slice of the sample."""
    import spkeras

    with np.load(spkeras.demo.SAMPLE_PATH) as data:
        x_calibration, y_calibration = data["x_calibration"][:200], data["y_calibration"][:200]
        x_test, y_test = data["x_test"][:100], data["y_test"][:100]
    for name in ("model.h5", "cnn.h5"):
        shutil.copy(spkeras.demo.DEMO_MODEL_PATH, folder / name)
    spkeras.save_model(spkeras.load_model(spkeras.demo.DEMO_MODEL_PATH), folder / "cnn.keras")
    for name in ("data.npz", "calibration.npz"):
        np.savez(folder / name, x=x_calibration)
    np.savez(folder / "train.npz", x=x_calibration, y=y_calibration)  # spkeras finetune trains: it needs labels
    np.savez(folder / "test.npz", x=x_test, y=y_test)


def _run_documented(page: str, tmp_path, skip_demo: bool = False):
    commands = _spkeras_commands(ROOT / page)
    assert commands, f"{page} has no spkeras commands"
    _prepare(tmp_path)
    environment = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    for command in commands:
        words = shlex.split(command)
        if skip_demo and words[1] == "demo":
            continue
        completed = subprocess.run(
            [*COMMAND, *words[1:]], cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=600
        )
        details = (
            f"{page}: `{command}` exited {completed.returncode}\n{completed.stdout[-2000:]}{completed.stderr[-3000:]}"
        )
        assert completed.returncode == 0, details
        assert "Traceback" not in completed.stderr and "cuInit" not in completed.stderr, details


def test_documented_commands_parse():
    """Every documented `spkeras ...` command names options that exist (cheap; the slow tests run them)."""
    from spkeras.cli import build_parser

    parser = build_parser()
    pages = ["README.md", "docs/getting-started.md", "docs/cli.md", "docs/index.md", "notebooks/README.md"]
    for page in pages:
        for command in _spkeras_commands(ROOT / page):
            words = shlex.split(command)[1:]
            if words in (["--help"], ["--version"]):
                continue
            try:
                parser.parse_args(words)
            except SystemExit as error:
                raise AssertionError(f"{page}: `{command}` does not parse") from error


@pytest.mark.slow
def test_readme_commands_run_as_written(tmp_path):
    _run_documented("README.md", tmp_path)
    for output in ("snn.keras", "result.json", "accuracy.png"):
        assert (tmp_path / output).is_file(), output


@pytest.mark.slow
@pytest.mark.parametrize("page", ["docs/getting-started.md", "docs/cli.md", "docs/index.md"])
def test_documented_commands_run_as_written(page, tmp_path):
    _run_documented(page, tmp_path)


if __name__ == "__main__":
    if sys.argv[1:] == ["--write-layer-lists"]:
        write_layer_lists()
    else:
        sys.exit("usage: python -m tests.docs.test_readme --write-layer-lists")
