"""GPU worker pools on Ray Serve: a local Ray instance (CPU, a tiny model) runs jobs for the gateway,
multiplexed by model id; a replica killed mid-job is survived without a double charge.

Run by ``test_ray_serve.py`` inside a network namespace of its own (only loopback), because Ray binds
its services to the machine's network address; not collected by a plain ``pytest`` run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from local_models import CatalogEntry

from ..support import Gateway, auth, make_settings, require_module, running_gateway

ray = require_module("ray")
serve = require_module("ray.serve")

POOL = "gpu-pool"
CONFIG = f"""
[backends.{POOL}]
type = "ray"
[[models]]
id = "wan-ray"
family = "wan"
weights = "builtin:wan-tiny"
backend = "{POOL}"
"""


@pytest.fixture(scope="module")
def ray_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    from adapters.ray_serve import build_app

    models_dir = tmp_path_factory.mktemp("ray-models")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, namespace="framegate")
    try:
        entry = CatalogEntry(id="wan-ray", family="wan", weights="builtin:wan-tiny", backend=POOL)
        serve.run(
            build_app([entry], models_dir, num_gpus=0, num_cpus=0.5, device="cpu"),
            name=POOL,
            route_prefix=None,
        )
        yield
    finally:
        serve.shutdown()
        ray.shutdown()


@pytest.fixture
async def rgw(ray_pool: None, tmp_path: Path, models_dir: Path) -> AsyncIterator[Gateway]:
    settings = make_settings(
        tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", models_dir, config=CONFIG, max_attempts=4
    )
    async with running_gateway(settings) as gateway:
        yield gateway


def _named_replicas() -> list[dict[str, str]]:
    from ray.util import list_named_actors

    return [a for a in list_named_actors(all_namespaces=True) if "SERVE_REPLICA" in a["name"]]


def _replica_names() -> set[str]:
    return {a["name"] for a in _named_replicas()}


def _replicas() -> list[Any]:
    return [ray.get_actor(a["name"], namespace=a["namespace"]) for a in _named_replicas()]


async def test_jobs_run_on_the_pool(rgw: Gateway, tmp_path: Path) -> None:
    key = rgw.new_key(credits=100)
    model = (await rgw.client.get("/v1/models/wan-ray", headers=auth(key))).json()
    assert model["modes"] == ["t2v"]
    video = (await rgw.create(key, prompt="a red circle", model="wan-ray", size="32x32", seed=4)).json()
    done = await rgw.wait(key, video["id"], timeout=120)
    assert done["status"] == "completed" and done["backend"] == POOL and done["progress"] == 100
    content = await rgw.client.get(f"/v1/videos/{video['id']}/content", headers=auth(key))
    (tmp_path / "clip.mp4").write_bytes(content.content)
    from local_models.video import read_frames

    frames, _ = read_frames(tmp_path / "clip.mp4")
    assert frames.shape == (17, 32, 32, 3)
    assert rgw.balance(key).balance_mc == 100_000 - round(done["cost"] * 1000)


async def test_a_replica_killed_mid_job_is_retried_and_charged_once(rgw: Gateway) -> None:
    key = rgw.new_key(credits=100)
    video = (
        await rgw.create(key, prompt="a slow one", model="wan-ray", size="64x64", steps=60, seed=5)
    ).json()
    deadline = time.monotonic() + 60
    while (await rgw.client.get(f"/v1/videos/{video['id']}", headers=auth(key))).json()["progress"] < 5:
        assert time.monotonic() < deadline, "the job never started on the pool"
        await asyncio.sleep(0.05)
    killed = _replica_names()
    assert killed
    for replica in _replicas():
        ray.kill(replica, no_restart=True)  # the replica's process dies mid-job; Serve starts another
    done = await rgw.wait(key, video["id"], timeout=180)
    assert _replica_names() and not (_replica_names() & killed), "Serve should have started a new replica"
    balance = rgw.balance(key)
    assert balance.held_mc == 0
    if done["status"] == "completed":
        assert balance.balance_mc == 100_000 - round(done["cost"] * 1000)
    else:
        assert balance.balance_mc == 100_000  # failed jobs are refunded in full
