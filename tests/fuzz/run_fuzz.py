"""Runs the fuzzing harness: ``python tests/fuzz/run_fuzz.py --cases 10000 --seed 0 --workers 2``.

Cases are drawn by Hypothesis (same seed, same cases) and split evenly over the targets (``load_h5``,
``load_keras``, ``convert``, ``evaluate``, ``cli``); each runs in a spawned worker process under a time and
memory limit (see :mod:`tests.fuzz.harness`). Every ``--subprocess-every``-th CLI case runs as a real
``python -m spkeras`` subprocess; the others call ``spkeras.cli.main`` in the worker, with stdout/stderr captured
(an exception escaping it is what a subprocess would print as a traceback).

Prints cases tried / unhandled / timeouts per target and writes a JSON report (every non-ok case with its spec,
so it can be replayed with ``--replay REPORT --index N``).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from tests.fuzz import harness  # noqa: E402
from tests.fuzz.strategies import TARGETS, draw_cases  # noqa: E402


def build_cases(count: int, seed: int, targets=TARGETS) -> list[tuple[int, dict]]:
    """``count`` cases interleaved over ``targets`` (index i belongs to target i mod len(targets))."""
    per_target = {t: draw_cases(t, -(-count // len(targets)), seed + offset) for offset, t in enumerate(targets)}
    cases = []
    for index in range(count):
        target = targets[index % len(targets)]
        cases.append((index, per_target[target][index // len(targets)]))
    return cases


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--targets", default=",".join(TARGETS), help="comma-separated subset of " + ", ".join(TARGETS))
    parser.add_argument("--time-limit", type=float, default=60.0, help="seconds per case before the worker is killed")
    parser.add_argument("--memory-limit", type=float, default=3.0, help="GB resident per worker before it is killed")
    parser.add_argument("--subprocess-every", type=int, default=25, help="every Nth CLI case as a real subprocess")
    parser.add_argument("--report", default="fuzz_report.json")
    parser.add_argument("--corpus", default=None, help="corpus folder (default: a temporary one)")
    parser.add_argument("--max-minutes", type=float, default=None, help="stop dispatching after this long")
    parser.add_argument("--replay", metavar="REPORT", help="rerun one case of a report in this process (see --index)")
    parser.add_argument("--index", type=int, help="the case index to replay")
    arguments = parser.parse_args(argv)
    if arguments.replay:
        return replay(arguments.replay, arguments.index, arguments.corpus)
    targets = tuple(arguments.targets.split(","))
    started = time.monotonic()
    cases = build_cases(arguments.cases, arguments.seed, targets)
    print(f"drew {len(cases)} cases in {time.monotonic() - started:.1f} s", flush=True)
    scratch = pathlib.Path(tempfile.mkdtemp(prefix="spkeras-fuzz-"))
    corpus = pathlib.Path(arguments.corpus) if arguments.corpus else scratch / "corpus"
    records, failures = [], []
    report_path = pathlib.Path(arguments.report)

    def write_report(final: bool) -> None:
        table = harness.summarize(records)
        harness.dump(
            report_path,
            {
                "arguments": vars(arguments),
                "finished": final,
                "elapsed_s": round(time.monotonic() - started, 1),
                "cases_per_second": round(len(records) / max(time.monotonic() - started, 1e-9), 3),
                "summary": table,
                "signatures": _signatures(failures),
                "failures": failures,
            },
        )

    deadline = started + 60 * arguments.max_minutes if arguments.max_minutes else None

    def on_result(index, case, result):
        record = {"index": index, "target": case["target"], **result}
        records.append({"target": case["target"], "outcome": result["outcome"], "seconds": result.get("seconds", 0)})
        if result["outcome"] not in ("ok", "handled"):
            failures.append({**record, "case": case})
            print(f"[{index}] {case['target']}: {result['outcome']}: {result.get('signature', '')}", flush=True)
        if len(records) % 100 == 0:
            rate = len(records) / (time.monotonic() - started)
            print(f"{len(records)} cases, {len(failures)} not ok, {rate:.2f} cases/s", flush=True)
            write_report(False)

    pool = harness.WorkerPool(arguments.workers, corpus, scratch, arguments.time_limit, arguments.memory_limit * 1e9)
    try:
        if deadline is None:
            pool.run(cases, on_result, arguments.subprocess_every)
        else:  # in slices, so the deadline is checked between them
            for start in range(0, len(cases), 50):
                if time.monotonic() > deadline:
                    print("deadline reached; stopping", flush=True)
                    break
                pool.run(cases[start : start + 50], on_result, arguments.subprocess_every)
    finally:
        pool.close()
        write_report(True)
    table = harness.summarize(records)
    print(harness.format_table(table))
    elapsed = time.monotonic() - started
    print(
        f"{len(records)} cases in {elapsed:.0f} s ({len(records) / elapsed:.2f} cases/s), "
        f"{pool.restarts} worker restarts"
    )
    for signature, count in _signatures(failures).items():
        print(f"  {count:>5}  {signature}")
    print(f"report: {report_path}")
    return 0


def replay(report_path, index: int, corpus=None) -> int:
    """Reruns the case ``index`` of a report in this process (no time limit) and prints its outcome."""
    import json

    from tests.fuzz.corpus import build_corpus

    report = json.loads(pathlib.Path(report_path).read_text())
    records = report.get("failures") or list(report.get("example_per_signature", {}).values())
    cases = {record["index"]: record["case"] for record in records}
    if index not in cases:
        print(f"no case {index} in {report_path}; cases: {sorted(cases)}")
        return 2
    case = cases[index]
    folder = pathlib.Path(tempfile.mkdtemp(prefix="spkeras-replay-"))
    manifest = build_corpus(pathlib.Path(corpus) if corpus else folder / "corpus")
    print(json.dumps(case))
    print(json.dumps(harness.run_case(case, manifest, folder), indent=1, default=repr))
    return 0


def _signatures(failures) -> dict:
    counts: dict = {}
    for failure in failures:
        key = f"{failure['target']}: {failure['outcome']}: {failure.get('signature', '')}"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: -item[1]))


if __name__ == "__main__":
    sys.exit(main())
