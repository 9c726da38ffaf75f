"""Every ```python block of README.md and docs/ runs (see tests/docs/snippets.py for how and with what).

All documents run in one subprocess, so that what the snippets register (methods, converters, Keras objects)
stays out of this test process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.docs import snippets

DOCUMENTS = [path for path in snippets.documents() if snippets.blocks(path)]
MAX_OPT_OUTS = 3


def _name(path) -> str:
    return str(path.relative_to(snippets.ROOT))


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    output = tmp_path_factory.mktemp("snippets") / "results.json"
    environment = {**os.environ, "MPLBACKEND": "Agg", "TF_CPP_MIN_LOG_LEVEL": "3"}
    completed = subprocess.run(
        [sys.executable, "-m", "tests.docs.snippets", str(output), *map(str, DOCUMENTS)],
        cwd=snippets.ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert completed.returncode == 0 and output.is_file(), completed.stderr[-5000:]
    return json.loads(output.read_text())


@pytest.mark.parametrize("path", DOCUMENTS, ids=_name)
def test_python_snippets_run(results, path):
    outcome = results[_name(path)]
    assert outcome["status"] == "passed", (
        f"the ```python block at {_name(path)}:{outcome['line']} fails:\n{outcome['error']}"
    )


def test_opt_outs_are_rare_and_give_a_reason():
    skipped = [
        block for path in snippets.documents() for block in snippets.blocks(path) if block.skip_reason is not None
    ]
    assert all(block.skip_reason for block in skipped), [f"{block.path}:{block.line}" for block in skipped]
    assert len(skipped) <= MAX_OPT_OUTS, [f"{_name(block.path)}:{block.line}" for block in skipped]


def test_the_readme_has_python_snippets():
    assert len(snippets.blocks(snippets.ROOT / "README.md")) >= 2


def test_block_parser(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "# Title\n\n```python\nx = 1\n```\n\n<!-- snippet: skip needs a TPU -->\n```python\ntpu()\n```\n\n"
        "!!! note\n    ```python\n    y = 2\n    ```\n\n```bash\nspkeras demo\n```\n"
    )
    found = snippets.blocks(page)
    assert [(block.code, block.skip_reason) for block in found] == [
        ("x = 1\n", None),
        ("tpu()\n", "needs a TPU"),
        ("y = 2\n", None),
    ]
    assert [block.code for block in snippets.blocks(page, "bash")] == ["spkeras demo\n"]
