"""A free worker runs queued work for the model it already holds before older work that needs a load."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select, update

from gateway.engine.db import jobs
from gateway.engine.jobs.worker import WorkerConfig, WorkerPool
from router import LOAD_FACTOR

from ..support import make_settings, running_gateway


def _loads(metrics: str, model: str) -> float:
    match = re.search(rf'^framegate_model_loads_total{{model="{model}"}} ([0-9.e+]+)$', metrics, re.M)
    return float(match.group(1)) if match else 0.0


@pytest.mark.parametrize(("window", "runs_first", "fast_loads"), [(300.0, "newer", 1), (0.0, "older", 2)])
async def test_warm_job_runs_before_an_older_cold_one(
    tmp_path: Path, models_dir: Path, window: float, runs_first: str, fast_loads: int
) -> None:
    settings = make_settings(
        tmp_path,
        f"sqlite:///{tmp_path / 'db.sqlite'}",
        models_dir,
        max_loaded_models=1,  # one model resident: switching models costs a load
        dispatch_window_seconds=window,
    )
    async with running_gateway(settings) as gw:
        key = gw.new_key(credits=100)
        warmup = (await gw.create(key, prompt="a red circle", model="shapes-fast", seed=1)).json()
        assert (await gw.wait(key, warmup["id"]))["status"] == "completed"
        state = gw.state
        assert state.workers is not None
        await state.workers.stop()
        older = (await gw.create(key, prompt="a blue square", model="shapes-hq", seed=1)).json()
        newer = (await gw.create(key, prompt="a green circle", model="shapes-fast", seed=1)).json()
        state.fleet.invalidate()  # see shapes-fast warm now, not a snapshot from before the warm-up
        assert "shapes-fast" in state.fleet.view().backends["local"].warm_models
        pool = WorkerPool(
            state.jobs,
            state.adapters,
            state.artifacts,
            WorkerConfig(workers=1, poll_seconds=0.05, dispatch_window_seconds=window),
            state.fleet,
        )
        await pool.start()
        try:
            for video in (older, newer):
                assert (await gw.wait(key, video["id"]))["status"] == "completed"
        finally:
            await pool.stop()
        with state.db.read() as conn:
            started = dict(
                conn.execute(
                    select(jobs.c.id, jobs.c.started_at).where(jobs.c.id.in_([older["id"], newer["id"]]))
                ).all()
            )
        first = "newer" if started[newer["id"]] < started[older["id"]] else "older"
        assert first == runs_first
        metrics = (await gw.client.get("/metrics")).text
    assert _loads(metrics, "shapes-fast") == fast_loads
    assert _loads(metrics, "shapes-hq") == 1


async def test_load_time_bounds_how_long_a_cold_job_is_overtaken(tmp_path: Path, models_dir: Path) -> None:
    """Through the worker and the job store: the reorder window shrinks to ``LOAD_FACTOR`` times the
    oldest job's model load time (the fleet's estimate). A warm job that arrived later than that
    after the oldest (cold) job does not overtake it, though the configured window would allow it."""
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", models_dir, max_loaded_models=1)
    async with running_gateway(settings) as gw:
        key = gw.new_key(credits=100)
        warmup = (await gw.create(key, prompt="a red circle", model="shapes-fast", seed=1)).json()
        assert (await gw.wait(key, warmup["id"]))["status"] == "completed"
        state = gw.state
        assert state.workers is not None
        await state.workers.stop()
        older = (await gw.create(key, prompt="a blue square", model="shapes-hq", seed=1)).json()
        newer = (await gw.create(key, prompt="a green circle", model="shapes-fast", seed=1)).json()
        state.fleet.invalidate()  # see shapes-fast warm now, not a snapshot from before the warm-up
        assert "shapes-fast" in state.fleet.view().backends["local"].warm_models
        assert "shapes-hq" not in state.fleet.view().backends["local"].warm_models
        bound = LOAD_FACTOR * state.fleet.load_estimates()["shapes-hq"]
        window = 2 * bound  # what the configured window alone would allow...
        gap = 1.5 * bound  # ...but the older job's load time caps it below this gap
        with state.db.write() as conn:
            created = conn.execute(select(jobs.c.created_at).where(jobs.c.id == newer["id"])).scalar_one()
            conn.execute(update(jobs).where(jobs.c.id == older["id"]).values(created_at=created - gap))
        pool = WorkerPool(
            state.jobs,
            state.adapters,
            state.artifacts,
            WorkerConfig(workers=1, poll_seconds=0.05, dispatch_window_seconds=window),
            state.fleet,
        )
        await pool.start()
        try:
            for video in (older, newer):
                assert (await gw.wait(key, video["id"]))["status"] == "completed"
        finally:
            await pool.stop()
        with state.db.read() as conn:
            started = dict(
                conn.execute(
                    select(jobs.c.id, jobs.c.started_at).where(jobs.c.id.in_([older["id"], newer["id"]]))
                ).all()
            )
        assert started[older["id"]] < started[newer["id"]], "the warm job overtook a cold one past the bound"
