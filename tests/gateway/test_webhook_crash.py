"""A gateway killed with SIGKILL in the middle of a webhook delivery delivers it after a restart: a
receiver that drops repeated ids sees the event exactly once. Real processes, real HTTP."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import httpx

from ..receiver import receiver
from .test_crash import CONFIG, _cli, _free_port, _serve


def test_sigkill_mid_delivery_then_restart(tmp_path: Path, models_dir: Path) -> None:
    (tmp_path / "framegate.toml").write_text(CONFIG)
    env = {
        **os.environ,
        "FRAMEGATE_DATA_DIR": str(tmp_path / "data"),
        "FRAMEGATE_CONFIG": str(tmp_path / "framegate.toml"),
        "FRAMEGATE_MODELS_DIR": str(models_dir),
        "FRAMEGATE_OUTBOUND_ALLOW_HTTP": "true",
        "FRAMEGATE_OUTBOUND_ALLOW_NETWORKS": '["127.0.0.0/8"]',
        "FRAMEGATE_WEBHOOK_TIMEOUT_SECONDS": "3",  # a claim lasts 2 x 3 + 5 = 11 s
        "FRAMEGATE_WEBHOOK_POLL_SECONDS": "0.1",
        "HF_HUB_OFFLINE": "1",
    }
    key = _cli(env, "keys", "create", "--account", "hooks", "--credits", "10").stdout.split()[0]
    headers = {"Authorization": f"Bearer {key}"}
    with receiver() as rec:
        rec.hang_seconds = 20  # the first delivery is in flight when the gateway dies
        port = _free_port()
        server = _serve(env, port)
        try:
            base = f"http://127.0.0.1:{port}"
            hook = {"url": f"{rec.url}/hook", "name": "crash", "event_types": ["video.completed"]}
            assert httpx.post(f"{base}/v1/webhook_endpoints", json=hook, headers=headers).status_code == 200
            video = httpx.post(
                f"{base}/v1/videos", json={"prompt": "p", "model": "fake-video"}, headers=headers
            ).json()
            deadline = time.monotonic() + 30
            while True:
                data = httpx.get(f"{base}/v1/webhook_deliveries", headers=headers).json()["data"]
                if data and data[0]["status"] == "delivering":
                    break
                assert time.monotonic() < deadline, data
                time.sleep(0.05)
        finally:
            os.kill(server.pid, signal.SIGKILL)
            server.wait()
        rec.hang_seconds = 0
        port = _free_port()
        server = _serve(env, port)
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 40
            while True:
                [delivery] = httpx.get(f"{base}/v1/webhook_deliveries", headers=headers).json()["data"]
                if delivery["status"] == "delivered":
                    break
                assert time.monotonic() < deadline, delivery
                time.sleep(0.1)
        finally:
            server.terminate()
            server.wait(timeout=30)
        delivered = [p for p in rec.posts() if p.path == "/hook"]
        ids = {p.headers["webhook-id"] for p in delivered}
        assert len(ids) == 1 and delivery["attempts"] == 2  # the lost attempt, then the one that landed
        assert json.loads(delivered[-1].body)["data"]["id"] == video["id"]
