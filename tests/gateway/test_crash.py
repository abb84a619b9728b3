"""A gateway process killed with SIGKILL mid-job loses nothing: after a restart the job runs again and is
charged once, and ``framegate ledger verify`` passes. Real processes, real HTTP, SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

CONFIG = """
[backends.fake]
type = "fake"
step_seconds = 0.25
models = [{ id = "fake-video", price_per_second = 1.0 }]
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli.main", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("gateway did not start")


def _wait(
    port: int, video_id: str, headers: dict[str, str], done: Callable[[dict], bool], timeout: float = 60
) -> dict:
    """Poll the video until ``done(video)``; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        state = httpx.get(f"http://127.0.0.1:{port}/v1/videos/{video_id}", headers=headers).json()
        if done(state):
            return state
        assert time.monotonic() < deadline, state
        time.sleep(0.05)


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_sigkill_mid_job_then_restart(tmp_path: Path, database_url: str, models_dir: Path) -> None:
    (tmp_path / "framegate.toml").write_text(CONFIG)
    env = {
        **os.environ,
        "FRAMEGATE_DATA_DIR": str(tmp_path / "data"),
        "FRAMEGATE_DATABASE_URL": database_url,
        "FRAMEGATE_CONFIG": str(tmp_path / "framegate.toml"),
        "FRAMEGATE_MODELS_DIR": str(models_dir),
        "FRAMEGATE_LEASE_SECONDS": "2",
        "FRAMEGATE_HEARTBEAT_SECONDS": "0.5",
        "HF_HUB_OFFLINE": "1",
    }
    key = _cli(env, "keys", "create", "--account", "crash", "--credits", "10").stdout.split()[0]
    headers = {"Authorization": f"Bearer {key}"}
    port = _free_port()
    server = _serve(env, port)
    try:
        video = httpx.post(
            f"http://127.0.0.1:{port}/v1/videos",
            headers=headers,
            json={"prompt": "survive", "model": "fake-video", "steps": 12},
        ).json()
        _wait(port, video["id"], headers, lambda v: v["status"] == "in_progress" and v["progress"] > 0)
    finally:
        os.kill(server.pid, signal.SIGKILL)
        server.wait()

    # Nothing is lost while the gateway is down: the job is still running (on a dead lease) and held.
    held = _cli(env, "credits", "show", "--account", "crash").stdout
    assert "held 3," in held, held  # 1 credit/s at 4 steps; 12 steps cost 3x

    port = _free_port()
    server = _serve(env, port)
    try:
        state = _wait(port, video["id"], headers, lambda v: v["status"] in ("completed", "failed"))
        assert state["status"] == "completed" and state["cost"] == 3.0
        ledger = httpx.get(f"http://127.0.0.1:{port}/v1/account/ledger", headers=headers).json()
        assert [e["kind"] for e in ledger["data"]] == ["capture", "grant"]
        usage = httpx.get(f"http://127.0.0.1:{port}/v1/usage?group_by=model", headers=headers).json()
        assert usage["data"][0]["jobs"] == 1
    finally:
        server.terminate()
        server.wait(timeout=30)
    balance = _cli(env, "credits", "show", "--account", "crash").stdout
    assert "balance 7, held 0, available 7" in balance, balance
    verify = _cli(env, "ledger", "verify")
    assert verify.returncode == 0, verify.stderr


def test_sigkill_when_out_of_attempts_refunds(tmp_path: Path, models_dir: Path) -> None:
    """With MAX_ATTEMPTS=1 a job whose worker dies is failed and refunded instead of re-run."""
    (tmp_path / "framegate.toml").write_text(CONFIG)
    env = {
        **os.environ,
        "FRAMEGATE_DATA_DIR": str(tmp_path / "data"),
        "FRAMEGATE_CONFIG": str(tmp_path / "framegate.toml"),
        "FRAMEGATE_MODELS_DIR": str(models_dir),
        "FRAMEGATE_LEASE_SECONDS": "1.5",
        "FRAMEGATE_HEARTBEAT_SECONDS": "0.5",
        "FRAMEGATE_MAX_ATTEMPTS": "1",
        "HF_HUB_OFFLINE": "1",
    }
    key = _cli(env, "keys", "create", "--account", "doomed", "--credits", "20").stdout.split()[0]
    headers = {"Authorization": f"Bearer {key}"}
    port = _free_port()
    server = _serve(env, port)
    try:
        video = httpx.post(
            f"http://127.0.0.1:{port}/v1/videos",
            headers=headers,
            json={"prompt": "p", "model": "fake-video", "steps": 40},
        ).json()
        _wait(port, video["id"], headers, lambda v: v["status"] == "in_progress")
    finally:
        os.kill(server.pid, signal.SIGKILL)
        server.wait()
    port = _free_port()
    server = _serve(env, port)
    try:
        state = _wait(port, video["id"], headers, lambda v: v["status"] == "failed", timeout=30)
        assert state["error"]["code"] == "worker_lost" and state["cost"] == 0
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert "balance 20, held 0, available 20" in _cli(env, "credits", "show", "--account", "doomed").stdout
    assert _cli(env, "ledger", "verify").returncode == 0
