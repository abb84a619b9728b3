"""Spanning machines: a gateway that runs jobs on a worker node (two real processes on loopback)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx

from local_models.video import probe

from .test_crash import _cli, _free_port, _serve, _wait

WORKER_CONFIG = """
[backends.gpu]
type = "fake"
step_seconds = 0.15
models = [{ id = "fake-remote", price_per_second = 1.0 }]
"""


def test_job_runs_on_the_worker_node_and_falls_back_when_it_dies(tmp_path: Path, models_dir: Path) -> None:
    base = {**os.environ, "FRAMEGATE_MODELS_DIR": str(models_dir), "HF_HUB_OFFLINE": "1"}
    (tmp_path / "worker.toml").write_text(WORKER_CONFIG)
    worker_env = {
        **base,
        "FRAMEGATE_DATA_DIR": str(tmp_path / "worker"),
        "FRAMEGATE_CONFIG": str(tmp_path / "worker.toml"),
        "FRAMEGATE_ROLE": "worker",
    }
    node_key = _cli(worker_env, "keys", "create", "--account", "upstream").stdout.split()[0]
    worker_port = _free_port()
    worker = _serve(worker_env, worker_port)
    gateway = None
    try:
        (tmp_path / "gateway.toml").write_text(f"""
[backends.node1]
type = "remote"
url = "http://127.0.0.1:{worker_port}"
api_key = "{node_key}"
models = ["fake-remote"]

[backends.spare]
type = "fake"
models = [{{ id = "fake-local", price_per_second = 1.0 }}]

[prices]
"fake-remote" = 2.0

[routes]
fallbacks = {{ "fake-remote" = ["fake-local"] }}
""")
        gateway_env = {
            **base,
            "FRAMEGATE_DATA_DIR": str(tmp_path / "gateway"),
            "FRAMEGATE_CONFIG": str(tmp_path / "gateway.toml"),
            "FRAMEGATE_RETRY_BASE_SECONDS": "0.05",
        }
        key = _cli(gateway_env, "keys", "create", "--account", "creator", "--credits", "20").stdout.split()[0]
        headers = {"Authorization": f"Bearer {key}"}
        port = _free_port()
        gateway = _serve(gateway_env, port)
        url = f"http://127.0.0.1:{port}"

        models = httpx.get(f"{url}/v1/models", headers=headers).json()["data"]
        remote = next(m for m in models if m["id"] == "fake-remote")
        assert remote["backends"] == ["node1"] and remote["price"]["credits_per_second"] == 2.0

        video = httpx.post(
            f"{url}/v1/videos",
            headers=headers,
            json={"prompt": "a red circle", "model": "fake-remote", "size": "48x32"},
        ).json()
        done = _wait(port, video["id"], headers, lambda v: v["status"] in ("completed", "failed"))
        assert (done["status"], done["model"], done["backend"], done["cost"]) == (
            "completed",
            "fake-remote",
            "node1",
            0.75,  # 2 credits/s at 64x64, scaled to 48x32
        )
        clip = tmp_path / "clip.mp4"
        clip.write_bytes(httpx.get(f"{url}/v1/videos/{video['id']}/content", headers=headers).content)
        info = probe(clip)
        assert (info.video_codec, info.width, info.height) == ("h264", 48, 32)
        # The worker node ran it, for free: the upstream gateway does the billing.
        worker_listing = httpx.get(
            f"http://127.0.0.1:{worker_port}/v1/videos", headers={"Authorization": f"Bearer {node_key}"}
        ).json()["data"]
        assert len(worker_listing) == 1 and worker_listing[0]["cost"] == 0

        second = httpx.post(
            f"{url}/v1/videos", headers=headers, json={"prompt": "p", "model": "fake-remote", "steps": 20}
        ).json()
        _wait(port, second["id"], headers, lambda v: v["progress"] > 0)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
        finished = _wait(port, second["id"], headers, lambda v: v["status"] in ("completed", "failed"))
        assert (finished["status"], finished["model"], finished["backend"]) == (
            "completed",
            "fake-local",
            "spare",
        )
        assert _cli(gateway_env, "ledger", "verify").returncode == 0
        account = httpx.get(f"{url}/v1/account", headers=headers).json()
        assert account["held"] == 0 and account["balance"] == 20 - 0.75 - finished["cost"]
    finally:
        for proc in (worker, gateway):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=30)
