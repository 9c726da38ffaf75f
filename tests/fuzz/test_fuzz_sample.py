"""A short seeded sample of the fuzzing harness (the full run: ``python tests/fuzz/run_fuzz.py --cases 10000``).

The sample runs the real harness path (a spawned worker under a time limit) on a few cases per target and fails
on any unhandled outcome that is not a known bug (each known bug has an ``xfail`` test in test_regressions.py).
"""

from __future__ import annotations

import pytest

from tests.fuzz import harness
from tests.fuzz.run_fuzz import build_cases

SAMPLE_SEED = 20261202
CASES_PER_TARGET = 6

# Signatures of known bugs (see tests/fuzz/test_regressions.py); the sample tolerates them until they are fixed.
# Signatures of known, not yet fixed crashes to tolerate here (none: the last two named files that no longer exist).
KNOWN_BUGS: tuple[str, ...] = ()


def test_classify_exception_follows_the_contract():
    assert harness.classify_exception(ValueError("Bad. Received: x=1."))["outcome"] == "handled"
    assert harness.classify_exception(FileNotFoundError("no /data/m.h5"), ["/data/m.h5"])["outcome"] == "handled"
    assert harness.classify_exception(ValueError("something broke"))["outcome"] == "unhandled"
    assert harness.classify_exception(KeyError("Received"))["outcome"] == "unhandled"
    assert harness.classify_exception(MemoryError())["outcome"] == "unhandled"


def test_classify_cli_follows_the_contract():
    assert harness.classify_cli(0, "progress\n", allow_refused=False)["outcome"] == "ok"
    assert harness.classify_cli(1, "", allow_refused=True)["outcome"] == "ok"
    assert harness.classify_cli(2, "a warning\nspkeras: error: bad. Received: x\n", False)["outcome"] == "handled"
    assert harness.classify_cli(2, "spkeras: error: a\nspkeras: error: b\n", False)["outcome"] == "unhandled"
    assert harness.classify_cli(1, "Traceback (most recent call last):\nKeyError: 1\n", False)["outcome"] == "unhandled"
    assert harness.classify_cli(2, "usage: spkeras\nspkeras: error: x\nmore\n", False)["outcome"] == "unhandled"


def test_the_same_seed_draws_the_same_cases():
    assert build_cases(10, SAMPLE_SEED) == build_cases(10, SAMPLE_SEED)


def test_seeded_sample_has_no_unhandled_outcomes(tmp_path):
    cases = build_cases(CASES_PER_TARGET * 5, SAMPLE_SEED)
    results = []
    pool = harness.WorkerPool(1, tmp_path / "corpus", tmp_path, time_limit=30.0, memory_limit=3e9)
    try:
        pool.run(cases, lambda index, case, result: results.append((case, result)), subprocess_every=0)
    finally:
        pool.close()
    assert len(results) == len(cases)
    table = harness.summarize([{"target": c["target"], **r} for c, r in results])
    assert {target: row["tried"] for target, row in table.items()} == dict.fromkeys(table, CASES_PER_TARGET)
    bad = [
        (case, result)
        for case, result in results
        if result["outcome"] not in ("ok", "handled")
        and not any(known in result.get("signature", "") for known in KNOWN_BUGS)
    ]
    assert not bad, "\n".join(
        f"{r['outcome']}: {r.get('signature')} {r.get('message', '')[:200]}\n  {c}" for c, r in bad
    )
    assert sum(r["outcome"] == "ok" for _, r in results) > 0, "no case got through: the sample tests nothing"


@pytest.mark.slow
def test_a_worker_that_overruns_or_dies_is_replaced_and_the_case_counted(tmp_path):
    """Self-test cases: one sleeps past the time limit, one kills its worker (as a segfault would)."""
    cases = [
        (0, {"target": "_selftest", "action": "sleep", "seconds": 60}),
        (1, {"target": "_selftest", "action": "crash"}),
        (2, {"target": "_selftest", "action": "return"}),
    ]
    results = {}
    pool = harness.WorkerPool(1, tmp_path / "corpus", tmp_path, time_limit=5.0)
    try:
        pool.run(cases, lambda index, case, result: results.__setitem__(index, result))
    finally:
        pool.close()
    assert [results[i]["outcome"] for i in range(3)] == ["timeout", "crash", "ok"]
    assert pool.restarts == 2
