"""Running a snippet in a fresh Python process under a wall-clock and a resident-memory limit."""

from __future__ import annotations

import dataclasses
import os
import pathlib
import subprocess
import sys
import time

REPOSITORY = pathlib.Path(__file__).resolve().parents[2]


@dataclasses.dataclass
class Isolated:
    returncode: int | None
    stdout: str
    stderr: str
    seconds: float
    peak_rss: int
    killed: str | None  # "timeout", "memory" or None


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def run_isolated(code: str, timeout: float = 60.0, memory_limit: float = 2.5e9, cwd=None) -> Isolated:
    """Runs ``python -c code``; kills it past ``timeout`` s or ``memory_limit`` bytes resident."""
    environment = dict(os.environ, PYTHONPATH=str(REPOSITORY), TF_CPP_MIN_LOG_LEVEL="3")
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        cwd=cwd,
        env=environment,
    )
    peak, killed = 0, None
    while process.poll() is None:
        peak = max(peak, _rss(process.pid))
        if peak > memory_limit:
            killed = "memory"
        elif time.monotonic() - started > timeout:
            killed = "timeout"
        if killed:
            process.kill()
            break
        time.sleep(0.1)
    stdout, stderr = process.communicate()
    return Isolated(process.returncode, stdout, stderr, time.monotonic() - started, peak, killed)
