"""The fuzzing harness: runs cases in worker processes under a time and memory limit and classifies outcomes.

Outcomes:

- ``ok``: the call succeeded (and a converted network holds only finite weights);
- ``handled``: ``ValueError``/``TypeError``/``FileNotFoundError`` whose message contains "Received" or the file
  path (CLI: exit 0/1, or exit 2 with exactly one ``spkeras: error:`` line, last on stderr, no traceback);
- ``unhandled``: any other exception, a message without "Received"/the path, a silently non-finite network,
  or a CLI run that broke the rule above;
- ``timeout``/``crash``/``oom``: the worker overran the time limit, died, or went over the memory limit; it is
  killed and a fresh one started.

Workers are ``spawn``ed and keep TensorFlow imported, so a case costs what its work costs.
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import logging
import multiprocessing
import multiprocessing.connection
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import warnings

from tests.fuzz.isolation import _rss  # resident bytes of a process

REPOSITORY = pathlib.Path(__file__).resolve().parents[2]
ALLOWED = (ValueError, TypeError, FileNotFoundError)
CASES_PER_WORKER = 300  # a fresh worker after this many cases bounds slow leaks (Keras graphs, caches)


# ----------------------------------------------------------------------------------------------------------
# Classification


def _where(error: BaseException, frames: int = 4) -> list[str]:
    entries = traceback.extract_tb(error.__traceback__)
    return [f"{pathlib.Path(e.filename).name}:{e.lineno} {e.name}" for e in entries[-frames:]]


def _innermost_spkeras(error: BaseException) -> str:
    for entry in reversed(traceback.extract_tb(error.__traceback__)):
        if f"{os.sep}spkeras{os.sep}" in entry.filename and f"{os.sep}tests{os.sep}" not in entry.filename:
            return f"{entry.filename.split(os.sep + 'spkeras' + os.sep)[-1]}:{entry.name}"
    return "-"


def classify_exception(error: BaseException, names=()) -> dict:
    """``handled`` for an allowed error type whose message says what was received, else ``unhandled``."""
    message = str(error)
    result = {
        "error_type": type(error).__name__,
        "message": message[:600],
        "where": _where(error),
        "signature": f"{type(error).__name__} @ {_innermost_spkeras(error)} / {(_where(error, 1) or ['-'])[0]}",
    }
    if isinstance(error, ALLOWED):
        if "Received" in message or any(str(name) in message for name in names if name):
            return {"outcome": "handled", **result}
        return {"outcome": "unhandled", "reason": "message names nothing received", **result}
    return {"outcome": "unhandled", "reason": "exception type", **result}


def classify_cli(returncode, stderr: str, allow_refused: bool) -> dict:
    """The CLI rule: exit 0 (1 for ``info``), or exit 2 with one ``spkeras: error:`` line, last, and no traceback."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("spkeras: error:")]
    result = {"returncode": returncode, "message": (errors[-1] if errors else "\n".join(lines[-5:]))[:600]}
    if "Traceback" in stderr:
        tail = [line for line in lines if line and not line.startswith(" ")]
        result["signature"] = f"cli traceback: {tail[-1][:120] if tail else '-'}"
        return {"outcome": "unhandled", "reason": "traceback on stderr", **result}
    if returncode == 0 or (returncode == 1 and allow_refused):
        return {"outcome": "ok", **result}
    if returncode == 2 and len(errors) == 1 and lines[-1] == errors[0]:
        return {"outcome": "handled", **result}
    result["signature"] = f"cli exit {returncode}: {len(errors)} error lines"
    return {"outcome": "unhandled", "reason": f"exit {returncode} with {len(errors)} 'spkeras: error:' lines", **result}


def _finite_network(model) -> bool:
    import numpy as np

    return all(np.all(np.isfinite(np.asarray(w))) for w in model.get_weights() if np.asarray(w).dtype.kind == "f")


# ----------------------------------------------------------------------------------------------------------
# Running one case (inside a worker)


def _kwargs(spec: dict) -> dict:
    return {key: value for key, value in spec.items() if value != "<default>" and key != "options"} | dict(
        spec.get("options", {})
    )


def _model_file(case_or_arg: dict, manifest: dict, folder: pathlib.Path, suffix: str) -> pathlib.Path:
    from tests.fuzz import mutations

    source = manifest["files"][f"{case_or_arg['base']}{suffix}"]
    target = folder / f"mutated{suffix}"
    if suffix == ".keras":
        mutations.mutate_keras_file(source, target, case_or_arg["ops"])
    else:
        mutations.mutate_h5_file(source, target, case_or_arg["ops"])
    return target


def _calibration_for(model):
    import numpy as np

    shape = [8 if s is None else int(s) for s in model.inputs[0].shape[1:]]
    if int(np.prod(shape)) > 2_000_000 or any(s <= 0 for s in shape):
        return None
    return np.random.default_rng(0).uniform(0, 1, [4] + shape).astype("float32")


def _run_load(case, manifest, folder):
    import spkeras

    suffix = ".h5" if case["target"] == "load_h5" else ".keras"
    path = _model_file(case, manifest, folder, suffix)
    names = (str(path), path.name)
    try:
        model = spkeras.load_model(path)
    except BaseException as error:  # noqa: BLE001 - classified
        return {"stage": "load", **classify_exception(error, names)}
    if not case.get("convert"):
        return {"outcome": "ok", "stage": "load"}
    x = _calibration_for(model)
    if x is None:
        return {"outcome": "ok", "stage": "load", "note": "input too large or empty to calibrate"}
    try:
        snn = spkeras.convert(model, x, timesteps=4)
    except BaseException as error:  # noqa: BLE001
        return {"stage": "convert", **classify_exception(error, names + (model.name,))}
    if not _finite_network(snn):
        return {
            "outcome": "unhandled",
            "stage": "convert",
            "reason": "converted network has non-finite weights or thresholds (silently wrong)",
            "error_type": "SilentNonFinite",
            "signature": "SilentNonFinite @ convert",
            "message": "convert succeeded on a model whose conversion holds NaN/inf",
        }
    return {"outcome": "ok", "stage": "convert"}


def _run_convert(case, manifest, folder):
    import spkeras
    from tests.fuzz import mutations

    base = case["base"]
    shape = manifest["inputs"][base]
    source = case["source"]
    model = (
        spkeras.load_model(manifest["files"][f"{base}.h5"])
        if source == "model"
        else manifest["files"][f"{base}.{source}"]
    )
    x = mutations.make_array(case["x"], shape, manifest["classes"][base])
    try:
        snn = spkeras.convert(model, x, **_kwargs(case["kwargs"]))
    except BaseException as error:  # noqa: BLE001
        return {"stage": "convert", **classify_exception(error)}
    if not _finite_network(snn):
        return {
            "outcome": "unhandled",
            "stage": "convert",
            "reason": "converted network has non-finite weights or thresholds (silently wrong)",
            "error_type": "SilentNonFinite",
            "signature": "SilentNonFinite @ convert(arrays)",
            "message": "convert accepted the data and built a network holding NaN/inf",
        }
    return {"outcome": "ok", "stage": "convert"}


_SNN_CACHE: dict = {}


def _run_evaluate(case, manifest, folder):
    import numpy as np

    import spkeras
    from tests.fuzz import mutations

    base = case["base"]
    if case["source"] == "file" or base not in _SNN_CACHE:
        snn = spkeras.load_model(manifest["snn"][base])
        if case["source"] != "file":
            _SNN_CACHE[base] = snn
    else:
        snn = _SNN_CACHE[base]
    x = mutations.make_array(case["x"], manifest["inputs"][base], manifest["classes"][base])
    try:
        shape = np.shape(x) if not isinstance(x, (str, dict, type(None))) else ()
    except ValueError:  # a ragged list
        shape = (len(x),)
    count = shape[0] if shape else 1
    y = mutations.make_labels(case["y"], count, manifest["classes"][base])
    try:
        spkeras.evaluate(snn, x, y, **_kwargs(case["kwargs"]))
    except BaseException as error:  # noqa: BLE001
        return {"stage": "evaluate", **classify_exception(error)}
    return {"outcome": "ok", "stage": "evaluate"}


def _npz_file(spec: dict, base: str, manifest: dict, folder: pathlib.Path) -> pathlib.Path:
    import numpy as np

    from tests.fuzz import mutations

    kind = spec["kind"]
    path = folder / "data.npz"
    if kind == "corpus":
        return pathlib.Path(manifest["data"][base])
    if kind == "missing":
        return folder / "absent.npz"
    if kind == "not_npz":
        path = folder / "data.csv"
        path.write_text("1,2,3\n")
        return path
    if kind == "garbage":
        path.write_bytes(b"PK\x03\x04garbage" * 10)
        return path
    if kind == "empty_npz":
        np.savez(path)
        return path
    shape = manifest["inputs"][base]
    x = mutations.make_array(spec["x"], shape, manifest["classes"][base])
    arrays = {spec["x_key"]: x}
    y_key = {"<matching>": "y" + spec["x_key"][1:] if spec["x_key"].startswith("x") else "y"}.get(
        spec["y_key"], spec["y_key"]
    )
    if y_key != "<none>":
        y = mutations.make_labels(spec["y"], len(x) if getattr(x, "ndim", 0) else 1, manifest["classes"][base])
        arrays[y_key] = np.asarray(y)
    if kind == "pickled":
        arrays[spec["x_key"]] = np.asarray(x).astype(object)
    np.savez(path, **arrays)
    return path


def _output_path(kind: str, folder: pathlib.Path, name: str, suffix: str):
    if kind == "absent":
        return None
    if kind == "missing_folder":
        return folder / "no-such-folder" / f"{name}{suffix}"
    if kind == "wrong_ext":
        return folder / f"{name}.txt"
    if kind == "folder":
        (folder / f"{name}{suffix}").mkdir(exist_ok=True)
        return folder / f"{name}{suffix}"
    if kind == "readonly_folder":
        readonly = folder / "readonly"
        readonly.mkdir(exist_ok=True)
        readonly.chmod(0o555)
        return readonly / f"{name}{suffix}"
    if kind == "pdf":
        return folder / f"{name}.pdf"
    return folder / f"{name}{suffix}"


def _model_argument(spec: dict, manifest: dict, folder: pathlib.Path, name: str = "model") -> pathlib.Path:
    kind, base, suffix = spec["kind"], spec["base"], spec["suffix"]
    if kind == "corpus":
        return pathlib.Path(manifest["files"][f"{base}{suffix}"])
    if kind == "snn":
        return pathlib.Path(manifest["snn"][base])
    if kind == "missing":
        return folder / f"absent{suffix}"
    if kind == "folder":
        (folder / f"dir{suffix}").mkdir(exist_ok=True)
        return folder / f"dir{suffix}"
    if kind == "npz":
        return pathlib.Path(manifest["data"][base])
    if kind == "wrong_ext":
        target = folder / f"{name}.pb"
        shutil.copyfile(manifest["files"][f"{base}.h5"], target)
        return target
    if kind == "empty_file":
        (folder / f"empty{suffix}").write_bytes(b"")
        return folder / f"empty{suffix}"
    sub = folder / name
    sub.mkdir(exist_ok=True)
    return _model_file(spec, manifest, sub, suffix)


def cli_argv(case: dict, manifest: dict, folder: pathlib.Path) -> list[str]:
    """The ``spkeras`` arguments of a CLI case (files created in ``folder``)."""
    command = case["command"]
    model_spec = dict(case["model"])
    if command == "evaluate" and model_spec["kind"] == "corpus":
        model_spec["kind"] = "snn"  # mostly a real converted model, so evaluate gets past the first check
    model = _model_argument(model_spec, manifest, folder)
    argv = [command, str(model)]
    base = case["model"]["base"]
    if command == "info":
        return argv + ["--max-pooling", case["max_pooling"]]
    data = _npz_file(case["data"], base, manifest, folder)
    argv += ["-T", str(case["timesteps"])]
    if case["batch_size"] != "absent":
        argv += ["--batch-size", str(case["batch_size"])]
    if case["limit"] != "absent":
        argv += ["--limit", str(case["limit"])]
    if case["quiet"]:
        argv.append("--quiet")
    if command == "convert":
        output = _output_path(case["output"], folder, "snn", ".keras") or folder / "snn.keras"
        argv += ["--calibration", str(data), "-o", str(output), "--method", case["method"]]
        argv += ["--calibrate", case["calibrate"]]
        for option in case["options"]:
            argv += ["--option", option]
        if case["json"] != "absent":  # reuse: convert --data with the same file
            argv += ["--data", str(data)]
        return argv
    argv += ["--data", str(data), "--encoding", case["encoding"]]
    json_path = _output_path(case["json"], folder, "result", ".json")
    if json_path:
        argv += ["--json", str(json_path)]
    plot_path = _output_path(case["plot"], folder, "accuracy", ".png")
    if plot_path:
        argv += ["--plot", str(plot_path)]
    if case["ann"] != "absent":
        ann = {"corpus": "corpus", "snn": "snn", "missing": "missing", "mutated": "mutated"}[case["ann"]]
        ann_spec = dict(case["model"], kind=ann)
        argv += ["--ann", str(_model_argument(ann_spec, manifest, folder, name="ann"))]
    return argv


class _DynamicStderr(logging.Handler):
    """Writes log records to whatever ``sys.stderr`` is now (the CLI's basicConfig would pin the first one)."""

    def emit(self, record):
        sys.stderr.write(self.format(record) + "\n")


def _run_cli(case, manifest, folder, subprocess_limit: float | None):
    from spkeras import cli

    argv = cli_argv(case, manifest, folder)
    allow_refused = case["command"] == "info"
    if subprocess_limit:
        environment = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
        environment["PYTHONPATH"] = str(REPOSITORY)
        try:
            completed = subprocess.run(
                [sys.executable, "-m", "spkeras", *argv],
                capture_output=True,
                text=True,
                timeout=subprocess_limit,
                cwd=folder,
                env=environment,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            return {
                "outcome": "timeout",
                "stage": "cli-subprocess",
                "argv": argv,
                "signature": "cli subprocess timeout",
            }
        result = classify_cli(completed.returncode, completed.stderr, allow_refused)
        return {"stage": "cli-subprocess", "argv": argv, **result}
    stdout, stderr = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            returncode = cli.main(argv)
    except SystemExit as exit_:  # argparse
        returncode = exit_.code
    except BaseException as error:  # noqa: BLE001 - would be a traceback from `python -m spkeras`
        return {
            "stage": "cli",
            "argv": argv,
            **classify_exception(error),
            "outcome": "unhandled",
            "reason": "exception escaped cli.main (a traceback)",
        }
    result = classify_cli(returncode, stderr.getvalue(), allow_refused)
    return {"stage": "cli", "argv": argv, **result}


def _run_selftest(case) -> dict:
    """Cases that test the harness itself: sleep past the limit, die like a segfault, or return."""
    if case["action"] == "sleep":
        time.sleep(case["seconds"])
    elif case["action"] == "crash":
        os._exit(139)
    return {"outcome": "ok", "stage": "selftest"}


def run_case(case: dict, manifest: dict, folder, subprocess_limit: float | None = None) -> dict:
    """Runs one case in this process and classifies it (used by the workers and for replaying a report)."""
    folder = pathlib.Path(folder)
    target = case["target"]
    if target == "_selftest":
        return _run_selftest(case)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if target in ("load_h5", "load_keras"):
            return _run_load(case, manifest, folder)
        if target == "convert":
            return _run_convert(case, manifest, folder)
        if target == "evaluate":
            return _run_evaluate(case, manifest, folder)
        return _run_cli(case, manifest, folder, subprocess_limit)


# ----------------------------------------------------------------------------------------------------------
# Workers


def _worker(connection, corpus_dir: str, scratch: str) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    log = os.open(os.path.join(scratch, f"worker-{os.getpid()}.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 1)  # TensorFlow's C++ lines and fatal-signal dumps go to the worker's log, not the terminal
    os.dup2(log, 2)
    sys.path.insert(0, str(REPOSITORY))
    warnings.simplefilter("ignore")
    import keras

    import spkeras  # noqa: F401
    from tests.fuzz.corpus import build_corpus

    root = logging.getLogger()
    root.handlers[:] = [_DynamicStderr()]
    root.setLevel(logging.WARNING)
    manifest = build_corpus(corpus_dir)
    keras.utils.disable_interactive_logging()
    connection.send(("ready", os.getpid()))
    done = 0
    while True:
        message = connection.recv()
        if message is None:
            return
        index, case, subprocess_limit = message
        folder = pathlib.Path(tempfile.mkdtemp(prefix=f"case{index}-", dir=scratch))
        started = time.perf_counter()
        sink = io.StringIO()
        try:
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                result = run_case(case, manifest, folder, subprocess_limit)
        except BaseException as error:  # noqa: BLE001 - a bug of the harness itself, reported as such
            result = {**classify_exception(error), "outcome": "harness_error"}
        result["seconds"] = round(time.perf_counter() - started, 3)
        with contextlib.suppress(OSError):
            for path in folder.rglob("*"):
                if path.is_dir():
                    path.chmod(0o755)
            shutil.rmtree(folder)
        done += 1
        if done % 25 == 0:
            keras.backend.clear_session(free_memory=False)
            _SNN_CACHE.clear()
            gc.collect()
        connection.send(("result", index, result))


def _children_rss(pid: int) -> int:
    total = _rss(pid)
    try:
        children = pathlib.Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    return total + sum(_rss(int(child)) for child in children)


class WorkerPool:
    """``workers`` spawned worker processes; each case runs in one under ``time_limit`` s and ``memory_limit``."""

    def __init__(self, workers: int, corpus_dir, scratch, time_limit: float = 60.0, memory_limit: float = 3e9):
        self.context = multiprocessing.get_context("spawn")
        self.corpus_dir, self.scratch = str(corpus_dir), str(scratch)
        self.time_limit, self.memory_limit = time_limit, memory_limit
        self.slots = [None] * workers
        self.restarts = 0
        if workers > 0:  # the first worker builds the corpus alone (the others then only read it)
            self.slots[0] = self._start()
            for index in range(1, workers):
                self.slots[index] = self._start()

    def _start(self):
        parent, child = self.context.Pipe()
        process = self.context.Process(target=_worker, args=(child, self.corpus_dir, self.scratch), daemon=True)
        process.start()
        child.close()
        startup = 600.0
        if not parent.poll(startup):
            process.kill()
            raise RuntimeError(f"fuzz worker did not start within {startup} s")
        parent.recv()
        return {"process": process, "connection": parent, "busy": None, "since": 0.0, "done": 0}

    def _replace(self, slot: int, kill: bool) -> None:
        worker = self.slots[slot]
        if kill:
            pid = worker["process"].pid
            with contextlib.suppress(OSError):  # a CLI subprocess the worker started dies with it
                for child in pathlib.Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
                    os.kill(int(child), 9)
            worker["process"].kill()
        worker["process"].join(10)
        worker["connection"].close()
        self.restarts += 1
        self.slots[slot] = self._start()

    def run(self, cases, on_result, subprocess_every: int = 0, subprocess_limit: float = 120.0) -> None:
        """Runs ``cases`` (``(index, case)`` pairs); calls ``on_result(index, case, result)`` for each."""
        pending = list(cases)[::-1]
        cli_seen = 0
        while pending or any(worker["busy"] is not None for worker in self.slots):
            for slot, worker in enumerate(self.slots):
                if worker["busy"] is None and pending:
                    if worker["done"] >= CASES_PER_WORKER:
                        worker["connection"].send(None)
                        self._replace(slot, kill=False)
                        worker = self.slots[slot]
                    index, case = pending.pop()
                    limit = None
                    if case["target"] == "cli":
                        cli_seen += 1
                        if subprocess_every and cli_seen % subprocess_every == 0:
                            limit = subprocess_limit
                    worker["connection"].send((index, case, limit))
                    worker["busy"] = (index, case, limit)
                    worker["since"] = time.monotonic()
            connections = [w["connection"] for w in self.slots if w["busy"] is not None]
            ready = multiprocessing.connection.wait(connections, timeout=0.25)
            for slot, worker in enumerate(self.slots):
                if worker["busy"] is None:
                    continue
                index, case, limit = worker["busy"]
                elapsed = time.monotonic() - worker["since"]
                result = None
                if worker["connection"] in ready:
                    try:
                        _, got_index, result = worker["connection"].recv()
                        worker["done"] += 1
                    except (EOFError, OSError):
                        code = worker["process"].exitcode
                        worker["process"].join(5)
                        code = worker["process"].exitcode if code is None else code
                        result = {
                            "outcome": "crash",
                            "reason": f"worker died (exit code {code})",
                            "signature": f"worker died ({code})",
                            "seconds": round(elapsed, 3),
                        }
                        self._replace(slot, kill=True)
                elif elapsed > self.time_limit + (limit or 0):
                    result = {
                        "outcome": "timeout",
                        "reason": f"over {self.time_limit:g} s",
                        "signature": "timeout",
                        "seconds": round(elapsed, 3),
                    }
                    self._replace(slot, kill=True)
                elif _children_rss(worker["process"].pid) > self.memory_limit:
                    result = {
                        "outcome": "oom",
                        "reason": f"over {self.memory_limit / 1e9:g} GB resident",
                        "signature": "memory limit",
                        "seconds": round(elapsed, 3),
                    }
                    self._replace(slot, kill=True)
                if result is not None:
                    self.slots[slot]["busy"] = None
                    on_result(index, case, result)

    def close(self) -> None:
        for worker in self.slots:
            with contextlib.suppress(Exception):
                worker["connection"].send(None)
        for worker in self.slots:
            worker["process"].join(10)
            if worker["process"].is_alive():
                worker["process"].kill()


def summarize(records: list[dict]) -> dict:
    """Per target: cases tried, ok, handled, unhandled, timeouts, crashes, OOM kills."""
    table: dict = {}
    for record in records:
        row = table.setdefault(
            record["target"],
            {"tried": 0, "ok": 0, "handled": 0, "unhandled": 0, "timeout": 0, "crash": 0, "oom": 0, "harness_error": 0},
        )
        row["tried"] += 1
        row["seconds"] = round(row.get("seconds", 0.0) + record.get("seconds", 0.0), 1)
        row[record["outcome"]] = row.get(record["outcome"], 0) + 1
    return table


def format_table(table: dict) -> str:
    columns = ("tried", "ok", "handled", "unhandled", "timeout", "crash", "oom")
    lines = [f"{'target':<12}" + "".join(f"{c:>11}" for c in columns)]
    for target, row in sorted(table.items()):
        lines.append(f"{target:<12}" + "".join(f"{row.get(c, 0):>11}" for c in columns))
    totals = {c: sum(row.get(c, 0) for row in table.values()) for c in columns}
    lines.append(f"{'total':<12}" + "".join(f"{totals[c]:>11}" for c in columns))
    return "\n".join(lines)


def json_default(value):
    return repr(value)


def dump(path, payload) -> None:
    text = json.dumps(payload, indent=1, default=json_default)
    path = pathlib.Path(path)
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)
