"""Two gateway processes, PostgreSQL, Redis and a Ray Serve pool; 200 jobs from 20 clients; one
gateway and one Ray replica killed with SIGKILL mid-run. Every job ends completed (charged once) or
failed (refunded), the ledger verifies, and the rate limit holds across processes.

The scenario (``scale_out.py``) runs in a private network namespace: Ray binds its services to the
machine's network address and cannot be told to use loopback only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ..support import postgres_available, require_module, run_loopback_only

require_module("ray.serve")

# The scenario runs in the module fixture, so inside the first test's time (pytest-timeout's default
# of 900 s covers any other test).
pytestmark = pytest.mark.timeout(2400)

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def summary() -> dict[str, Any]:
    assert postgres_available(), "PostgreSQL must be running (see ../shared/services.md)"
    assert Path("/var/run/postgresql").is_dir(), "PostgreSQL's Unix socket directory is missing"
    result = run_loopback_only([str(HERE / "scale_out.py")], timeout=2000)
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    assert result.returncode == 0 and lines, result.stdout[-4000:] + result.stderr[-6000:]
    data: dict[str, Any] = json.loads(lines[-1].removeprefix("RESULT "))
    assert data, result.stderr[-6000:]
    print(json.dumps({k: v for k, v in data.items() if k != "balance_mismatches"}, indent=1))
    return data


def test_every_job_ends_and_none_is_lost(summary: dict[str, Any]) -> None:
    assert summary["client_errors"] == []
    assert summary["jobs"] == summary["jobs_in_db"] == 200
    assert summary["completed"] + summary["failed"] == 200
    assert summary["completed"] >= 190, summary["failed_codes"]  # retries absorb the two kills
    assert summary["downloads_ok"] == summary["completed"]


def test_the_kills_happened_mid_run_and_were_survived(summary: dict[str, Any]) -> None:
    killed = summary["killed"]
    assert killed["gateway_pid"] and killed["replica_pid"], killed
    assert killed["after_completed"] < 200
    assert summary["failovers"] > 0  # the dead gateway's clients moved to the other one
    assert summary["retried"] > 0  # the dead gateway's or replica's jobs ran again


def test_nothing_is_charged_twice_and_failures_are_refunded(summary: dict[str, Any]) -> None:
    assert summary["captured_twice"] == []
    assert summary["completed_without_one_capture"] == []
    assert summary["failed_not_refunded"] == []
    assert summary["balance_mismatches"] == []
    assert summary["ledger_problems"] == []


def test_rate_limit_is_shared_by_both_gateways(summary: dict[str, Any]) -> None:
    probe = summary["rate_probe"]
    assert probe["codes"] == [200, 429]
    # One bucket through Redis: two in-process buckets would let about twice the burst through.
    assert probe["accepted"] <= probe["allowed_at_most"] + 1, probe
    assert all(float(value) > 0 for value in probe["retry_after"]), probe
