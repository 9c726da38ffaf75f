"""Extracts the ```python blocks of the README and the docs, and runs them (``python -m tests.docs.snippets``).

A document's blocks run top to bottom in one namespace, as a reader would type them, in a fresh temporary
working directory that holds the files the snippets name (``model.h5``, ``data.npz``, ...; the bundled demo
model and sample) and a namespace with the variables they assume (``cnn``, ``x_calibration``, ``x_test``,
``y_test``, ``snn``, ``result``, ...). ``spkeras.demo.load_sample`` returns a small slice of the bundled
sample, so every snippet runs in seconds.

A block opts out only with a marker comment right before its fence, with a reason::

    <!-- snippet: skip needs a TPU -->
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import re
import shutil
import sys
import tempfile
import time
import traceback

ROOT = pathlib.Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<language>[\w+-]*)\s*$")
SKIP = re.compile(r"^\s*<!--\s*snippet:\s*skip\b\s*(?P<reason>.*?)\s*-->\s*$")
CALIBRATION_IMAGES = 200
TEST_IMAGES = 50


@dataclasses.dataclass
class Block:
    """One fenced code block of a Markdown document."""

    path: pathlib.Path
    line: int  # 1-based line of the opening fence
    language: str
    code: str
    skip_reason: str | None = None


def documents() -> list[pathlib.Path]:
    """README.md and every Markdown page under docs/."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def blocks(path: pathlib.Path, language: str | None = "python") -> list[Block]:
    """The fenced blocks of ``path`` (of one ``language``, or all), with any skip marker before them."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found, index = [], 0
    while index < len(lines):
        match = FENCE.match(lines[index])
        if not match or not match["language"]:
            index += 1
            continue
        indent, start = match["indent"], index
        end = next(
            (i for i in range(index + 1, len(lines)) if lines[i].strip() == "```" and lines[i].startswith(indent)),
            len(lines),
        )
        body = [line[len(indent) :] if line.startswith(indent) else line.lstrip() for line in lines[start + 1 : end]]
        previous = next((lines[i] for i in range(start - 1, -1, -1) if lines[i].strip()), "")
        marker = SKIP.match(previous)
        if language is None or match["language"] == language:
            reason = marker["reason"] if marker else None
            found.append(Block(path, start + 1, match["language"], "\n".join(body) + "\n", reason))
        index = end + 1
    return found


def _small_sample() -> dict:
    """The first images of the bundled sample: what ``spkeras.demo.load_sample`` returns to the snippets."""
    sample = _FULL_LOAD_SAMPLE()
    return {
        "x_calibration": sample["x_calibration"][:CALIBRATION_IMAGES],
        "y_calibration": sample["y_calibration"][:CALIBRATION_IMAGES],
        "x_test": sample["x_test"][:TEST_IMAGES],
        "y_test": sample["y_test"][:TEST_IMAGES],
    }


_FULL_LOAD_SAMPLE = None


_SHARED: dict = {}


def _shared() -> dict:
    """What every document starts from, built once per process: the sample, the CNN and a converted SNN."""
    if not _SHARED:
        import spkeras

        global _FULL_LOAD_SAMPLE
        _FULL_LOAD_SAMPLE = spkeras.demo.load_sample
        spkeras.demo.load_sample = _small_sample
        sample = spkeras.demo.load_sample()
        cnn = spkeras.load_model(spkeras.demo.DEMO_MODEL_PATH)
        snn = spkeras.convert(cnn, sample["x_calibration"], timesteps=16)
        folder = pathlib.Path(tempfile.mkdtemp(prefix="snippets-shared-"))
        spkeras.save_model(snn, folder / "snn.keras")
        result = spkeras.evaluate(snn, sample["x_test"], sample["y_test"], timesteps=16)
        _SHARED.update(sample=sample, snn_file=folder / "snn.keras", snn=snn, result=result)
    return _SHARED


def prepare(workdir: pathlib.Path) -> dict:
    """Writes the files the snippets name into ``workdir`` and returns the namespace they start from."""
    import keras
    import numpy as np

    import spkeras

    shared = _shared()
    sample = shared["sample"]
    for name in ("model.h5", "cnn.h5", "cnn_model.h5"):
        shutil.copy(spkeras.demo.DEMO_MODEL_PATH, workdir / name)
    shutil.copy(shared["snn_file"], workdir / "snn.keras")
    x_calibration, x_test, y_test = sample["x_calibration"], sample["x_test"], sample["y_test"]
    np.savez(workdir / "data.npz", x=x_calibration, y=sample["y_calibration"])
    np.savez(workdir / "calibration.npz", x=x_calibration)
    np.savez(workdir / "test.npz", x=x_test, y=y_test)
    cnn = spkeras.load_model(workdir / "model.h5")
    return {
        "__name__": "__snippet__",
        "np": np,
        "keras": keras,
        "spkeras": spkeras,
        "sample": dict(sample),
        "cnn": cnn,
        "cnn_model": spkeras.load_model(workdir / "cnn_model.h5"),
        "model": cnn,
        "x_calibration": x_calibration,
        "x_train": x_calibration,
        "y_train": sample["y_calibration"],
        "x_test": x_test,
        "y_test": y_test,
        "snn": shared["snn"],
        "result": shared["result"],
    }


def run_document(path: pathlib.Path) -> dict:
    """Runs the python blocks of one document; returns ``{"status", "line", "error", "skipped"}``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runnable = [block for block in blocks(path) if block.skip_reason is None]
    skipped = [(block.line, block.skip_reason) for block in blocks(path) if block.skip_reason is not None]
    if not runnable:
        return {"status": "passed", "blocks": 0, "skipped": skipped}
    previous, started = os.getcwd(), time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="snippets-") as folder:
        os.chdir(folder)
        try:
            namespace = prepare(pathlib.Path(folder))
            for block in runnable:
                try:
                    exec(compile(block.code, f"{path.relative_to(ROOT)}:{block.line}", "exec"), namespace)
                except BaseException:  # noqa: B036 - report every failure, including SystemExit
                    return {"status": "failed", "line": block.line, "error": traceback.format_exc(limit=-8)}
        finally:
            plt.close("all")
            os.chdir(previous)
    return {"status": "passed", "blocks": len(runnable), "skipped": skipped, "seconds": time.perf_counter() - started}


def main(argv: list[str]) -> int:
    """``python -m tests.docs.snippets OUTPUT.json [DOC.md ...]``: runs the documents, writes the results."""
    output, *names = argv
    paths = [pathlib.Path(name).resolve() for name in names] or documents()
    results = {}
    for path in paths:
        results[str(path.relative_to(ROOT))] = run_document(path)
        print(f"{path.relative_to(ROOT)}: {results[str(path.relative_to(ROOT))]['status']}", file=sys.stderr)
    pathlib.Path(output).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
