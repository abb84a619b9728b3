"""Generation, its checks and its encoding run on threads below the API's priority (``worker_nice``),
so a model running in the gateway's process leaves the event loop a core first."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

from tests.support import make_settings, running_gateway

pytestmark = pytest.mark.skipif(
    sys.platform != "linux", reason="threads have their own priority on Linux only"
)


def _generation_threads(before: set[int | None]) -> dict[str, int]:
    """This gateway's generation threads (not an earlier test's, still winding down) and priorities."""
    return {
        t.name: os.getpriority(os.PRIO_PROCESS, t.native_id)
        for t in threading.enumerate()
        if t.name.startswith("fg-gen") and t.native_id is not None and t.ident not in before
    }


@pytest.mark.parametrize("nice", [7, 0])
async def test_a_job_runs_on_threads_below_the_apis_priority(
    tmp_path: Path, models_dir: Path, nice: int
) -> None:
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'fg.db'}", models_dir, worker_nice=nice)
    api = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    before = {t.ident for t in threading.enumerate()}
    async with running_gateway(settings) as gw:
        key = gw.new_key()
        created = await gw.create(key, model="fake-video", prompt="a red circle moving right", seconds=1)
        assert created.status_code == 200, created.text
        assert (await gw.wait_qc(key, created.json()["id"]))["status"] == "completed"
        threads = _generation_threads(before)
        assert threads, "the job ran on no generation thread"
        assert set(threads.values()) == {min(19, api + nice)}
        assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == api  # the loop's is unchanged
