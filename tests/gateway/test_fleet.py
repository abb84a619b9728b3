"""The fleet view: queued work per backend, counted from the job rows (grouped in the database)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from ..support import Gateway, auth, make_settings, running_gateway


async def _queued_seconds(gw: Gateway, key: str, until: Callable[[float], bool]) -> float:
    """``/v1/backends``' queued seconds of the fake backend, once ``until`` holds (or after 5 s)."""
    value = float("nan")
    for _ in range(100):  # the view is a snapshot, cached for a moment
        backends = (await gw.client.get("/v1/backends", headers=auth(key))).json()["data"]
        value = float(next(b for b in backends if b["id"] == "fake")["queued_seconds"])
        if until(value):
            break
        await asyncio.sleep(0.05)
    return value


async def test_queued_work_counts_each_job_by_its_frames_and_steps(
    tmp_path: Path, database_url: str, models_dir: Path
) -> None:
    settings = make_settings(tmp_path, database_url, models_dir, workers=0)  # nothing runs: all queue
    async with running_gateway(settings) as gw:
        key = gw.new_key(credits=100)
        assert await _queued_seconds(gw, key, lambda v: v == 0.0) == 0.0
        body = {"model": "fake-video", "prompt": "a red circle", "seconds": 1}
        assert (await gw.create(key, **body, steps=4)).status_code == 200
        one = await _queued_seconds(gw, key, lambda v: v > 0)
        assert one > 0
        for steps in (4, 8):  # same shape twice (one group) and one twice as long
            assert (await gw.create(key, **body, steps=steps)).status_code == 200
        four = await _queued_seconds(gw, key, lambda v: v == pytest.approx(4 * one))
        assert four == pytest.approx(4 * one)


async def test_an_expired_snapshot_is_rebuilt_once_while_the_others_keep_the_last(
    tmp_path: Path, database_url: str, models_dir: Path
) -> None:
    """Sixteen creates routing at the moment the snapshot expires run the queue's aggregate once, not
    sixteen times (with thousands of jobs queued, those copies were most of a create's database time)."""
    settings = make_settings(tmp_path, database_url, models_dir, workers=0)
    async with running_gateway(settings) as gw:
        fleet = gw.state.fleet
        last = fleet.view()
        time.sleep(0.6)  # the snapshot (and the queue's aggregate) are kept for half a second
        aggregates: list[str] = []
        release = threading.Event()

        def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            if "GROUP BY" in statement:
                aggregates.append(statement)
                release.wait(1.0)  # the refresh is slow: the other callers arrive while it runs

        event.listen(gw.state.db.engine, "before_cursor_execute", count)
        try:
            with ThreadPoolExecutor(16) as pool:
                views = list(pool.map(lambda _: fleet.view(), range(16)))
        finally:
            event.remove(gw.state.db.engine, "before_cursor_execute", count)
        assert len(aggregates) == 1
        assert sum(view is last for view in views) == 15  # kept the last snapshot meanwhile
        assert fleet.view() is not last  # the fresh one, now cached
