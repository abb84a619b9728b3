"""A worker that dies mid-job loses nothing: its lease expires and the job runs again or is refunded."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import select, update

from gateway.engine.db import jobs
from gateway.engine.jobs.worker import WorkerConfig, WorkerPool

from ..support import auth, make_settings, running_gateway


async def test_expired_lease_is_requeued_on_start_and_charged_once(
    tmp_path: Path, database_url: str, models_dir: Path
) -> None:
    # The first gateway accepts the job; then its "worker" claims it and dies (the lease lapses).
    async with running_gateway(make_settings(tmp_path, database_url, models_dir, workers=0)) as gw:
        key = gw.new_key(credits=5)
        video = (await gw.create(key, prompt="survives a crash", model="fake-video")).json()
        claimed = gw.state.jobs.claim("dead-worker", ["fake"], lease_seconds=0.01)
        assert claimed is not None and claimed.id == video["id"]
        assert (await gw.client.get(f"/v1/videos/{video['id']}", headers=auth(key))).json()[
            "status"
        ] == "in_progress"
    time.sleep(0.05)
    async with running_gateway(make_settings(tmp_path, database_url, models_dir)) as gw:
        done = await gw.wait(key, video["id"])
        assert done["status"] == "completed"
        with gw.state.db.read() as conn:
            attempts = conn.execute(select(jobs.c.attempts).where(jobs.c.id == video["id"])).scalar_one()
        assert attempts == 2
        balance = gw.balance(key)
        assert (balance.balance_mc, balance.held_mc) == (4000, 0)


async def test_job_that_keeps_losing_its_worker_fails_and_refunds(
    tmp_path: Path, database_url: str, models_dir: Path
) -> None:
    async with running_gateway(make_settings(tmp_path, database_url, models_dir, workers=0)) as gw:
        key = gw.new_key(credits=5)
        video = (await gw.create(key, prompt="doomed", model="fake-video")).json()
        gw.state.jobs.claim("dead-worker", ["fake"], lease_seconds=0.01)
        with gw.state.db.write() as conn:
            conn.execute(update(jobs).where(jobs.c.id == video["id"]).values(attempts=3))
    time.sleep(0.05)
    async with running_gateway(make_settings(tmp_path, database_url, models_dir)) as gw:
        done = await gw.wait(key, video["id"])
        assert done["status"] == "failed" and done["error"]["code"] == "worker_lost"
        balance = gw.balance(key)
        assert (balance.balance_mc, balance.held_mc) == (5000, 0)


async def test_lease_expiry_while_running_is_swept(
    tmp_path: Path, database_url: str, models_dir: Path
) -> None:
    """The periodic sweeper (not only start-up) re-queues a job whose worker went silent.

    No race against a short lease: the other process's lease is long, so the start-up sweep must
    leave the job alone; the lease is then made to lapse in the database (as it would, later, when
    that process stops heartbeating), and only the running pool's periodic sweep can pick it up."""
    settings = make_settings(tmp_path, database_url, models_dir)
    async with running_gateway(settings) as gw:
        key = gw.new_key(credits=5)
        state = gw.state
        assert state.workers is not None
        await state.workers.stop()
        video = (await gw.create(key, prompt="p", model="fake-video")).json()
        # Another process claims it and then goes silent: no heartbeats.
        assert state.jobs.claim("other-process", ["fake"], lease_seconds=3600) is not None
        fresh = WorkerPool(
            state.jobs,
            state.adapters,
            state.artifacts,
            WorkerConfig(workers=1, lease_seconds=0.6, heartbeat_seconds=0.2, poll_seconds=0.05),
        )
        await fresh.start()  # the lease has not expired, so the start-up sweep leaves the job alone
        try:
            row = state.jobs.get_any(video["id"])
            assert row is not None and (row.status, row.lease_owner) == ("in_progress", "other-process")
            with state.db.write() as conn:
                conn.execute(
                    update(jobs).where(jobs.c.id == video["id"]).values(lease_expires_at=time.time() - 1)
                )
            done = await gw.wait(key, video["id"], timeout=60)
            assert done["status"] == "completed"
        finally:
            await fresh.stop()
        with state.db.read() as conn:
            attempts = conn.execute(select(jobs.c.attempts).where(jobs.c.id == video["id"])).scalar_one()
        assert attempts == 2  # the silent process's claim, then the fresh pool's
        balance = gw.balance(key)
        assert (balance.balance_mc, balance.held_mc) == (4000, 0)
