"""Hosted providers through the gateway's API, each against a local fake that follows its documented API:
completion with progress, cancel, permanent vs transient errors, fallback both ways billed to what ran,
a restart mid-poll that resumes without a second submit, an unknown provider state never refunded
early, and the provider key never leaking."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path

import pytest

from local_models.video import probe
from tests.fake_providers.common import API_KEY, Script
from tests.fake_providers.gateway import (
    KEY_ENV,
    KINDS,
    external_of,
    gateway,
    hosted_config,
    provider,
    wait_status,
)
from tests.support import auth


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """Provider behaviour does not depend on the database: these run on SQLite only; the restart and
    the unknown-state tests, where the job row is the point, run on PostgreSQL too."""
    return f"sqlite:///{tmp_path / 'framegate.db'}"


@pytest.fixture(autouse=True)
def provider_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, API_KEY)


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
    monkeypatch.setenv(KEY_ENV, "wrong-key")
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
