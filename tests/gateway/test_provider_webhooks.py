"""A hosted provider's signed webhook (``POST /v1/providers/{backend}/webhook``): it wakes the poll of
its job; a forged, stale or malformed one is refused, and an unknown backend is not found."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from pathlib import Path

import pytest

from gateway.engine.webhooks.signing import signature_header
from tests.fake_providers.common import API_KEY, Script
from tests.fake_providers.gateway import KEY_ENV, gateway, hosted_config, provider


async def test_a_signed_provider_webhook_wakes_the_poll_and_a_forged_one_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, models_dir: Path
) -> None:
    monkeypatch.setenv(KEY_ENV, API_KEY)
    sqlite_url = f"sqlite:///{tmp_path / 'framegate.db'}"
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
