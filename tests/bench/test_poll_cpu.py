"""``bench/poll_cpu.py`` runs and prints both rows (its numbers are for people, never asserted)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_poll_cpu_bench_prints_its_table() -> None:
    out = subprocess.run(
        [sys.executable, "bench/poll_cpu.py", "--calls", "20", "--rounds", "1"],
        cwd=ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    assert "plain route (default)" in out and "FastAPI route" in out
