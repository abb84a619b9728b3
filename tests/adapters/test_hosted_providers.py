"""Hosted providers through the gateway's API, each against a local fake that follows its documented API:
completion with progress, cancel, permanent vs transient errors, fallback both ways billed to what ran,
a restart mid-poll that resumes without a second submit, an unknown provider state never refunded
early, and the provider key never leaking."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from gateway.engine.db import jobs
from gateway.engine.webhooks.signing import signature_header
from local_models.video import probe
from tests.fake_providers.common import API_KEY, Script, serve
from tests.fake_providers.fal import fal_app
from tests.fake_providers.openai import openai_app
from tests.fake_providers.replicate import replicate_app
from tests.fake_providers.veo import veo_app
from tests.support import Gateway, auth, make_settings, running_gateway


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
api_key_env = "FG_TEST_PROVIDER_KEY"
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


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """Provider behaviour does not depend on the database: these run on SQLite only; the restart and
    the unknown-state tests, where the job row is the point, run on PostgreSQL too."""
    return f"sqlite:///{tmp_path / 'framegate.db'}"


@pytest.fixture(autouse=True)
def provider_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FG_TEST_PROVIDER_KEY", API_KEY)


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


@pytest.mark.parametrize("kind", sorted(KINDS))
async def test_a_hosted_job_completes_with_progress_and_is_billed_at_the_provider_price(
    kind: str, tmp_path: Path, sqlite_url: str, models_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    script = Script(queue_polls=1, run_polls=8)
    with provider(kind, script) as url:
        async with gateway(tmp_path, sqlite_url, models_dir, hosted_config(kind, url)) as gw:
            key = gw.new_key(credits=50)
            created = await gw.create(
                key, model="hosted-video", prompt="a red ball rolls", seconds="2", size="128x72"
            )
            assert created.status_code == 200, created.text
            vid = created.json()["id"]
            seen: set[int] = set()
            bodies = [created.text]
            deadline = time.monotonic() + 30
            while (response := await gw.client.get(f"/v1/videos/{vid}", headers=auth(key))).json()[
                "status"
            ] not in (
                "completed",
                "failed",
            ):
                seen.add(response.json()["progress"])
                assert time.monotonic() < deadline
                await asyncio.sleep(0.01)
            done = response.json()
            assert done["status"] == "completed", done
            assert done["backend"] == "cloud" and done["model"] == "hosted-video"
            assert any(0 < p < 100 for p in seen), seen  # the provider's progress reached the caller
            assert done["cost"] == 6.0 and gw.balance(key).available_mc == 44_000
            content = await gw.client.get(f"/v1/videos/{vid}/content", headers=auth(key))
            assert content.status_code == 200
            clip = tmp_path / "clip.mp4"
            clip.write_bytes(content.content)
            info = probe(clip)
            assert (info.width, info.height) == (128, 72)
            assert script.submits == 1
            assert external_of(gw, vid)["id"] in {j.id for j in script.jobs.values()} | {
                f"models/{KINDS[kind].target}/operations/{j}" for j in script.jobs
            }
            for path in ("/v1/backends", "/v1/models", "/v1/routes/explain?model=hosted-video&prompt=x"):
                bodies.append((await gw.client.get(path, headers=auth(key))).text)
            bodies.append(response.text)
            bodies.append(json.dumps(external_of(gw, vid)))
    # The key went to the provider in its documented header, and nowhere else.
    assert all(API_KEY in json.dumps(headers) for _, _, headers in script.seen)
    for text in [*bodies, caplog.text]:
        assert API_KEY not in text


@pytest.mark.parametrize("kind", sorted(KINDS))
async def test_cancel_stops_the_provider_job_and_releases_the_credits(
    kind: str, tmp_path: Path, sqlite_url: str, models_dir: Path
) -> None:
    script = Script()
    with provider(kind, script) as url:
        async with gateway(tmp_path, sqlite_url, models_dir, hosted_config(kind, url)) as gw:
            key = gw.new_key(credits=10)
            vid = (await gw.create(key, model="hosted-video", prompt="HANG a slow shot", seconds="1")).json()[
                "id"
            ]
            await wait_status(gw, key, vid, "in_progress")
            deadline = time.monotonic() + 10
            while external_of(gw, vid) is None:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.02)
            assert (await gw.client.post(f"/v1/videos/{vid}/cancel", headers=auth(key))).status_code == 200
            failed = await wait_status(gw, key, vid, "failed")
            assert failed["error"]["code"] == "cancelled"
            assert gw.balance(key).available_mc == 10_000
            provider_id = external_of(gw, vid)["id"].rsplit("/", 1)[-1]
            if KINDS[kind].cancels:
                assert script.cancels == [provider_id]
            else:
                assert script.cancels == []  # the Gemini API has no cancel: the job stops being followed


@pytest.mark.parametrize("kind", sorted(KINDS))
async def test_a_bad_key_and_a_refused_prompt_fail_at_once_without_fallback(
    kind: str, tmp_path: Path, sqlite_url: str, models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = Script(run_polls=1)
    with provider(kind, script) as url:
        async with gateway(tmp_path, sqlite_url, models_dir, hosted_config(kind, url)) as gw:
            key = gw.new_key(credits=10)
            vid = (await gw.create(key, model="hosted-video", prompt="REFUSE this", seconds="1")).json()["id"]
            refused = await gw.wait(key, vid)
            assert refused["status"] == "failed" and refused["error"]["code"] == "content_refused", refused
            assert refused["model"] == "hosted-video"  # no fallback to the local model
            assert gw.balance(key).available_mc == 10_000
    monkeypatch.setenv("FG_TEST_PROVIDER_KEY", "wrong-key")
    with provider(kind, Script()) as url:
        async with gateway(tmp_path / "b", sqlite_url, models_dir, hosted_config(kind, url)) as gw:
            key = gw.new_key(credits=10)
            vid = (await gw.create(key, model="hosted-video", prompt="a cat", seconds="1")).json()["id"]
            failed = await gw.wait(key, vid)
            # Veo answers a bad key with 400 INVALID_ARGUMENT, as the Gemini API does: permanent either way.
            expected = "provider_rejected" if kind == "veo" else "provider_auth_failed"
            assert failed["error"]["code"] == expected, failed
            assert failed["model"] == "hosted-video" and gw.balance(key).available_mc == 10_000


@pytest.mark.parametrize("kind", sorted(KINDS))
async def test_rate_limits_are_honoured_then_fall_back_to_local_billed_to_what_ran(
    kind: str, tmp_path: Path, sqlite_url: str, models_dir: Path
) -> None:
    script = Script(run_polls=1, submit_errors=[(429, {"retry-after": "0"})])
    with provider(kind, script) as url:
        async with gateway(tmp_path, sqlite_url, models_dir, hosted_config(kind, url)) as gw:
            key = gw.new_key(credits=20)
            vid = (await gw.create(key, model="hosted-video", prompt="a short wait", seconds="1")).json()[
                "id"
            ]
            done = await gw.wait(key, vid)
            assert done["status"] == "completed" and done["model"] == "hosted-video"
            assert script.submits == 2  # one 429 (retry-after: 0), then accepted
            # A long retry-after is not waited out: the job falls back to local, billed at its price.
            script.submit_errors.extend([(429, {"retry-after": "3600"})] * 20)
            vid = (await gw.create(key, model="hosted-video", prompt="busy provider", seconds="1")).json()[
                "id"
            ]
            done = await gw.wait(key, vid)
            assert done["status"] == "completed", done
            assert (done["model"], done["backend"]) == ("local-video", "spare")
            assert done["cost"] == 1.0 and gw.balance(key).available_mc == 20_000 - 3_000 - 1_000


@pytest.mark.parametrize("kind", sorted(KINDS))
async def test_a_job_that_fails_at_the_provider_falls_back_to_local(
    kind: str, tmp_path: Path, sqlite_url: str, models_dir: Path
) -> None:
    script = Script(run_polls=1)
    with provider(kind, script) as url:
        async with gateway(tmp_path, sqlite_url, models_dir, hosted_config(kind, url)) as gw:
            key = gw.new_key(credits=20)
            vid = (await gw.create(key, model="hosted-video", prompt="FAILJOB once", seconds="1")).json()[
                "id"
            ]
            done = await gw.wait(key, vid)
            assert done["status"] == "completed" and done["model"] == "local-video", done
            assert done["cost"] == 1.0 and gw.balance(key).available_mc == 19_000
            # The provider ran it and said it failed: not tried there again (each try may be billed), and
            # not held against the provider's health: its circuit stays closed for everyone else.
            assert script.submits == 1
            backends = (await gw.client.get("/v1/backends", headers=auth(key))).json()["data"]
            assert {b["id"]: b["state"] for b in backends}["cloud"] == "closed"


@pytest.mark.parametrize("kind", sorted(KINDS))
async def test_a_restart_mid_poll_resumes_the_provider_job_without_a_second_submit(
    kind: str, tmp_path: Path, database_url: str, models_dir: Path
) -> None:
    script = Script(queue_polls=2, run_polls=60)
    with provider(kind, script) as url:
        config = hosted_config(kind, url)
        async with gateway(tmp_path, database_url, models_dir, config) as gw:
            key = gw.new_key(credits=20)
            vid = (await gw.create(key, model="hosted-video", prompt="a long take", seconds="1")).json()["id"]
            deadline = time.monotonic() + 20
            while external_of(gw, vid) is None or script.polls < 3:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.02)
        # The first gateway is gone mid-poll; a second one on the same database picks the job up.
        async with gateway(tmp_path, database_url, models_dir, config) as gw:
            done = await gw.wait(key, vid, timeout=60)
            assert done["status"] == "completed", done
            assert script.submits == 1 and script.cancels == []
            assert gw.balance(key).available_mc == 17_000


@pytest.mark.parametrize("kind", ["fal", "replicate"])
async def test_an_unreachable_provider_is_not_refunded_early(
    kind: str, tmp_path: Path, database_url: str, models_dir: Path
) -> None:
    script = Script(status_down=True)
    with provider(kind, script) as url:
        config = hosted_config(kind, url, unknown_after=2.0)
        async with gateway(tmp_path, database_url, models_dir, config) as gw:
            key = gw.new_key(credits=10)
            vid = (await gw.create(key, model="hosted-video", prompt="into the void", seconds="1")).json()[
                "id"
            ]
            await wait_status(gw, key, vid, "in_progress")
            await asyncio.sleep(1.0)
            # The provider may be working (and billing): the job stays open and its credits stay held.
            body = (await gw.client.get(f"/v1/videos/{vid}", headers=auth(key))).json()
            assert body["status"] == "in_progress" and gw.balance(key).available_mc == 7_000
            assert sum(method == "GET" for method, _, _ in script.seen) >= 2  # still asking
            failed = await gw.wait(key, vid, timeout=20)
            assert failed["error"]["code"] == "provider_state_unknown", failed
            assert failed["model"] == "hosted-video"  # not run again elsewhere while the provider may be
            assert gw.balance(key).available_mc == 10_000
            assert script.submits == 1


async def test_a_key_quoted_back_by_the_provider_is_scrubbed_from_errors_and_logs(
    tmp_path: Path, sqlite_url: str, models_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    script = Script(run_polls=1)
    with provider("replicate", script) as url:
        config = hosted_config("replicate", url).replace(
            'fallbacks = { "hosted-video" = ["local-video"] }', ""
        )
        async with gateway(tmp_path, sqlite_url, models_dir, config) as gw:
            key = gw.new_key(credits=10)
            created = await gw.create(key, model="hosted-video", prompt="ECHOKEY please", seconds="1")
            failed = await gw.wait(key, created.json()["id"])
            assert failed["status"] == "failed" and "[redacted]" in failed["error"]["message"], failed
            listed = (await gw.client.get("/v1/videos", headers=auth(key))).text
    assert API_KEY not in json.dumps(failed) and API_KEY not in listed and API_KEY not in caplog.text


async def test_a_remix_of_a_hosted_video_runs_on_the_same_model(
    tmp_path: Path, sqlite_url: str, models_dir: Path
) -> None:
    with provider("fal", Script(run_polls=1)) as url:
        async with gateway(tmp_path, sqlite_url, models_dir, hosted_config("fal", url)) as gw:
            key = gw.new_key(credits=20)
            vid = (await gw.create(key, model="hosted-video", prompt="a red ball", seconds="1")).json()["id"]
            assert (await gw.wait(key, vid))["status"] == "completed"
            remix = await gw.client.post(
                f"/v1/videos/{vid}/remix", json={"prompt": "a blue ball"}, headers=auth(key)
            )
            assert remix.status_code == 200, remix.text
            done = await gw.wait(key, remix.json()["id"])
            assert done["status"] == "completed" and done["model"] == "hosted-video"
            assert done["remixed_from_video_id"] == vid


async def test_a_shorter_clip_than_asked_is_billed_for_the_seconds_it_has(
    tmp_path: Path, sqlite_url: str, models_dir: Path
) -> None:
    script = Script(run_polls=1, short_seconds=1.0)
    with provider("fal", script) as url:
        async with gateway(tmp_path, sqlite_url, models_dir, hosted_config("fal", url)) as gw:
            key = gw.new_key(credits=10)
            vid = (await gw.create(key, model="hosted-video", prompt="cut short", seconds="2")).json()["id"]
            done = await gw.wait(key, vid)
            assert done["status"] == "completed" and done["quoted_cost"] == 6.0
            assert done["cost"] == 3.0 and gw.balance(key).available_mc == 7_000


async def test_a_signed_provider_webhook_wakes_the_poll_and_a_forged_one_is_refused(
    tmp_path: Path, sqlite_url: str, models_dir: Path
) -> None:
    secret = "whsec_" + base64.b64encode(b"replicate-signing-key-0123456789").decode()
    script = Script(queue_polls=0, run_polls=1)
    with provider("replicate", script) as url:
        options = f'poll_seconds = 30\nwebhook_url = "https://gw.example/hook"\nwebhook_secret = "{secret}"'
        async with gateway(
            tmp_path, sqlite_url, models_dir, hosted_config("replicate", url, options=options)
        ) as gw:
            key = gw.new_key(credits=10)
            vid = (await gw.create(key, model="hosted-video", prompt="wake me", seconds="1")).json()["id"]
            deadline = time.monotonic() + 20
            while script.polls < 1:  # polled once ("processing"); the next poll is 30 s away
                assert time.monotonic() < deadline
                await asyncio.sleep(0.02)
            [job] = script.jobs.values()
            assert job.body["webhook"] == "https://gw.example/hook"
            assert job.body["webhook_events_filter"] == ["completed"]
            body = json.dumps({"id": job.id, "status": "succeeded"}).encode()
            stamp = int(time.time())
            forged = {
                "webhook-id": "msg_1",
                "webhook-timestamp": str(stamp),
                "webhook-signature": "v1,Zm9yZ2Vk",
            }
            hook = "/v1/providers/cloud/webhook"
            refused = await gw.client.post(hook, content=body, headers=forged)
            assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_signature"
            stale = {**forged, "webhook-timestamp": str(stamp - 3600)}
            stale["webhook-signature"] = signature_header([secret], "msg_1", stamp - 3600, body)
            assert (await gw.client.post(hook, content=body, headers=stale)).status_code == 401
            for hostile in ({"webhook-timestamp": b"\xb2"}, {"webhook-timestamp": "9" * 5000}):
                sent = await gw.client.post(hook, content=body, headers={**forged, **hostile})
                assert sent.status_code == 401
            latin = {**forged, "webhook-signature": b"v1,\xff\xfe"}
            assert (await gw.client.post(hook, content=body, headers=latin)).status_code == 401
            unknown = await gw.client.post("/v1/providers/spare/webhook", content=body, headers=forged)
            assert unknown.status_code == 404
            signed = {**forged, "webhook-signature": signature_header([secret], "msg_1", stamp, body)}
            accepted = await gw.client.post(hook, content=body, headers=signed)
            assert accepted.status_code == 200 and accepted.json()["outcome"] == "polled"
            started = time.monotonic()
            done = await gw.wait(key, vid, timeout=20)
            assert done["status"] == "completed" and time.monotonic() - started < 10
