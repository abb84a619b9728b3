"""A gateway with one hosted backend (``cloud``, model ``hosted-video``) pointed at a fake provider,
and a local fallback (``spare``, model ``local-video``): what the hosted-provider tests share."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select

from gateway.engine.db import jobs
from tests.support import Gateway, auth, make_settings, running_gateway

from .common import Script, serve
from .fal import fal_app
from .openai import openai_app
from .replicate import replicate_app
from .veo import veo_app

KEY_ENV = "FG_TEST_PROVIDER_KEY"  # the config reads the provider key from here (tests set it)


@dataclass(frozen=True)
class Kind:
    app: Callable[[Script], FastAPI]
    target: str
    path: str = ""  # appended to the fake's base URL (OpenAI-style servers live under /v1)
    cancels: bool = True  # whether the provider has a cancel call


KINDS = {
    "fal": Kind(fal_app, "fal-ai/kling-video/v2/master/text-to-video"),
    "replicate": Kind(replicate_app, "kwaivgi/kling-v2.1"),
    "veo": Kind(veo_app, "veo-3.0-generate-001", cancels=False),
    "openai": Kind(openai_app, "sora-2", path="/v1"),
}


def hosted_config(
    kind: str, url: str, *, unknown_after: float = 30.0, extra: str = "", options: str = "poll_seconds = 0.05"
) -> str:
    return f"""
[backends.cloud]
type = "{kind}"
url = "{url}"
api_key_env = "{KEY_ENV}"
concurrency = 2
{options}
max_poll_seconds = 30
unknown_after_seconds = {unknown_after}

[[backends.cloud.models]]
id = "hosted-video"
target = "{KINDS[kind].target}"
modes = ["t2v", "i2v"]
sizes = ["128x72", "72x128"]
seconds = [1, 2]
fps = 8
quality = 0.9
eta_seconds = 2
price = {{ per_second = 3 }}

[backends.spare]
type = "fake"
models = [{{ id = "local-video", price_per_second = 1.0 }}]

[routes]
fallbacks = {{ "hosted-video" = ["local-video"] }}
{extra}
"""


@contextlib.contextmanager
def provider(kind: str, script: Script) -> Iterator[str]:
    with serve(KINDS[kind].app(script)) as base:
        yield base + KINDS[kind].path


@contextlib.asynccontextmanager
async def gateway(tmp_path: Path, database_url: str, models_dir: Path, config: str, **overrides: Any):  # type: ignore[no-untyped-def]
    tmp_path.mkdir(parents=True, exist_ok=True)
    settings = make_settings(tmp_path, database_url, models_dir, config=config, **overrides)
    async with running_gateway(settings) as gw:
        yield gw


async def wait_status(gw: Gateway, key: str, vid: str, status: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = (await gw.client.get(f"/v1/videos/{vid}", headers=auth(key))).json()
        if body["status"] == status:
            return body
        assert time.monotonic() < deadline, f"{vid} is {body['status']}, not {status}"
        await asyncio.sleep(0.02)


def external_of(gw: Gateway, vid: str) -> Any:
    with gw.state.db.read() as conn:
        return conn.execute(select(jobs.c.external).where(jobs.c.id == vid)).scalar_one()
