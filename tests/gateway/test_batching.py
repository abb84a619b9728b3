"""Batched generation through the gateway: queued jobs of one model with the same parameters run as one
pipeline call, and each still has its own seed, progress, cancel and bill; a cancel takes one job out
at once; a failed batch runs its jobs alone. The clips a real pipeline batches are the clips each
job gets alone: tests/adapters/test_local_batch.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import billing

from ..support import Gateway, auth, make_settings, running_gateway

CONFIG = """
[backends.busy]
type = "fake"
step_seconds = 0.3
models = [{ id = "fake-busy", price_per_second = 1.0 }]

[backends.batcher]
type = "fake"
batch = 3
step_seconds = 0.2
models = [{ id = "fake-batch", price_per_second = 2.0 }]
"""


@pytest.fixture
async def bgw(tmp_path: Path, models_dir: Path) -> AsyncIterator[Gateway]:
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'b.db'}", models_dir, config=CONFIG, workers=1)
    async with running_gateway(settings) as gateway:
        yield gateway


def behaviour(gw: Gateway) -> Any:
    return gw.state.adapters["batcher"].behaviour  # type: ignore[attr-defined]


async def _queue_behind_busy(gw: Gateway, key: str, count: int, **fields: Any) -> list[str]:
    """Occupy the only worker, then queue ``count`` batchable jobs behind it."""
    await gw.create(key, model="fake-busy", prompt="busy", steps=4)
    ids = []
    for i in range(count):
        body = {
            "model": "fake-batch",
            "prompt": f"a square number {i}",
            "steps": 8,
            "seed": 100 + i,
            **fields,
        }
        response = await gw.create(key, **body)
        assert response.status_code == 200, response.text
        ids.append(response.json()["id"])
    return ids


def _ledger_ok(gw: Gateway) -> None:
    with gw.state.db.read() as conn:
        assert billing.verify_ledger(conn) == []


async def test_queued_jobs_run_as_one_batch_and_each_keeps_its_seed_and_bill(bgw: Gateway) -> None:
    key = bgw.new_key(credits=20)
    ids = await _queue_behind_busy(bgw, key, 3)
    done = [await bgw.wait(key, i) for i in ids]
    assert [d["status"] for d in done] == ["completed"] * 3
    assert behaviour(bgw).batches == [3] and behaviour(bgw).calls == 1  # one call made all three
    assert [d["seed"] for d in done] == [100, 101, 102]
    assert [d["cost"] for d in done] == [4.0, 4.0, 4.0] and all(d["progress"] == 100 for d in done)
    contents = [await bgw.client.get(f"/v1/videos/{i}/content", headers=auth(key)) for i in ids]
    assert len({c.content for c in contents}) == 3  # three different clips (prompt and seed differ)
    _ledger_ok(bgw)


async def test_a_cancel_takes_one_job_out_of_the_batch_at_once(bgw: Gateway) -> None:
    key = bgw.new_key(credits=20)
    ids = await _queue_behind_busy(bgw, key, 3)
    while (await bgw.client.get(f"/v1/videos/{ids[1]}", headers=auth(key))).json()["status"] != "in_progress":
        await asyncio.sleep(0.05)
    cancelled = await bgw.client.post(f"/v1/videos/{ids[1]}/cancel", headers=auth(key))
    assert cancelled.status_code == 200, cancelled.text
    gone = await bgw.wait(key, ids[1], timeout=5)  # out of the batch before the batch ends
    first = (await bgw.client.get(f"/v1/videos/{ids[0]}", headers=auth(key))).json()
    assert gone["status"] == "failed" and gone["error"]["code"] == "cancelled"
    assert first["status"] == "in_progress"  # the others go on
    others = [await bgw.wait(key, i) for i in (ids[0], ids[2])]
    assert [o["status"] for o in others] == ["completed", "completed"]
    assert behaviour(bgw).batches == [3]
    assert gone["cost"] == 0 and [o["cost"] for o in others] == [4.0, 4.0]
    _ledger_ok(bgw)


async def test_a_failed_batch_runs_its_jobs_alone(bgw: Gateway) -> None:
    b = behaviour(bgw)
    b.fail, b.fail_times = "transient", 1  # the batch call fails; the single runs after it succeed
    key = bgw.new_key(credits=20)
    ids = await _queue_behind_busy(bgw, key, 3)
    done = [await bgw.wait(key, i) for i in ids]
    assert [d["status"] for d in done] == ["completed"] * 3
    assert b.batches == [3] and b.calls == 4  # one failed batch, then each job alone
    assert [d["cost"] for d in done] == [4.0, 4.0, 4.0]
    _ledger_ok(bgw)


async def test_jobs_that_differ_in_more_than_the_seed_do_not_batch(bgw: Gateway) -> None:
    key = bgw.new_key(credits=20)
    await bgw.create(key, model="fake-busy", prompt="busy", steps=4)
    first = (await bgw.create(key, model="fake-batch", prompt="a", steps=8)).json()["id"]
    second = (await bgw.create(key, model="fake-batch", prompt="b", steps=6)).json()["id"]
    assert [(await bgw.wait(key, i))["status"] for i in (first, second)] == ["completed", "completed"]
    assert behaviour(bgw).batches == []  # each ran alone
