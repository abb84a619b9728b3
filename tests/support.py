"""Test helpers: databases, a gateway over ASGI, a gateway on a real loopback port, images."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import secrets
import shlex
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import uvicorn
from fastapi import FastAPI
from PIL import Image

import billing
from gateway import Settings, create_app
from gateway.engine.keys import create_key
from gateway.state import AppState

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"

FAKE_CONFIG = """
[backends.fake]
type = "fake"
models = [{ id = "fake-video", price_per_second = 1.0 }]
"""


def run_loopback_only(args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """Run ``python *args`` from the repository root in a network namespace of its own (only
    loopback, brought up first): Ray binds its services to the machine's network address and cannot
    be told to use loopback, so its tests run there. Needs util-linux's ``unshare`` (and root)."""
    assert shutil.which("unshare"), "util-linux's unshare is needed to give Ray a loopback-only network"
    root = Path(__file__).resolve().parents[1]
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "RAY_USAGE_STATS_ENABLED": "0",
        "PYTHONPATH": str(root),
    }
    command = "ip link set lo up && " + " ".join(shlex.quote(a) for a in [sys.executable, *args])
    return subprocess.run(
        ["unshare", "--net", "sh", "-c", command],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


REQUIRE_SERVICES = os.environ.get("FRAMEGATE_REQUIRE_SERVICES") == "1"


def require(available: bool, what: str) -> None:
    """Skip a test whose service or tool is missing, with the reason in pytest's summary; under
    ``FRAMEGATE_REQUIRE_SERVICES=1`` (``.ci/run`` sets it) fail instead, so CI cannot go green by
    skipping every PostgreSQL, Redis or browser test."""
    if available:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"{what} (FRAMEGATE_REQUIRE_SERVICES=1: CI needs it)", pytrace=False)
    pytest.skip(what, allow_module_level=True)


def require_module(name: str) -> Any:
    """``pytest.importorskip`` for the test extras, failing instead under ``FRAMEGATE_REQUIRE_SERVICES``."""
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError:
        require(False, f"{name} is not installed (pip install -e '.[test]')")


def redis_available() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


def postgres_available() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A throwaway PostgreSQL database, dropped afterwards."""
    import psycopg

    name = f"framegate_test_{secrets.token_hex(6)}"
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_settings(
    tmp_path: Path, database_url: str, models_dir: Path, *, config: str = FAKE_CONFIG, **overrides: Any
) -> Settings:
    config_path = tmp_path / "framegate.toml"
    config_path.write_text(config)
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "database_url": database_url,
        "config": config_path,
        "models_dir": models_dir,
        "lease_seconds": 5.0,
        "heartbeat_seconds": 0.5,
        "poll_seconds": 0.1,
        "poll_after_ms": 100,
        "retry_base_seconds": 0.01,
        "retry_max_seconds": 0.05,
        # Webhook receivers and image servers in tests listen on loopback, over plain http.
        "outbound_allow_http": True,
        "outbound_allow_networks": ["127.0.0.0/8"],
        "webhook_poll_seconds": 0.1,
        "webhook_timeout_seconds": 2.0,
        "webhook_retry_schedule": [0.2] * 7,
        # Under pytest-xdist another test process keeps the other core busy at normal priority: there,
        # niced generation threads get a tenth of a core and timing-bound tests wait on them.
        # tests/gateway/test_worker_priority.py covers the setting.
        "worker_nice": 0,
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class Gateway:
    """A running app (lifespan entered) and an httpx client over ASGI."""

    app: FastAPI
    client: httpx.AsyncClient

    @property
    def state(self) -> AppState:
        return self.app.state.fg  # type: ignore[no-any-return]

    def new_key(self, credits: float = 100.0, account: str | None = None) -> str:
        with self.state.db.write() as conn:
            account_id = billing.ensure_account(conn, account or f"acct-{secrets.token_hex(4)}")
            if credits:
                billing.grant(conn, account_id, billing.millicredits(credits))
            return create_key(conn, account_id).secret

    def balance(self, key: str) -> billing.Balance:
        from gateway.engine.keys import lookup

        principal = lookup(self.state.db, key)
        assert principal is not None
        with self.state.db.read() as conn:
            return billing.get_balance(conn, principal.account_id)

    async def create(self, key: str, **fields: Any) -> httpx.Response:
        return await self.client.post("/v1/videos", json=fields, headers=auth(key))

    async def wait(self, key: str, video_id: str, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            response = await self.client.get(f"/v1/videos/{video_id}", headers=auth(key))
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            if body["status"] in ("completed", "failed"):
                return body
            if time.monotonic() > deadline:
                raise AssertionError(f"{video_id} still {body['status']} after {timeout}s")
            await asyncio.sleep(0.02)

    async def wait_qc(self, key: str, video_id: str, timeout: float = 60.0) -> dict[str, Any]:
        """Wait for a completed video's quality checks, which land a moment after completion."""
        deadline = time.monotonic() + timeout
        while True:
            body = await self.wait(key, video_id, timeout)
            if body["qc"] is not None or body["status"] != "completed":
                return body
            if time.monotonic() > deadline:
                raise AssertionError(f"{video_id} has no quality checks after {timeout}s")
            await asyncio.sleep(0.02)


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@contextlib.asynccontextmanager
async def running_gateway(settings: Settings) -> AsyncIterator[Gateway]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Gateway(app, client)


@contextlib.contextmanager
def live_server(settings: Settings) -> Iterator[tuple[str, FastAPI]]:
    """The app served by uvicorn on a free loopback port, in a background thread."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = create_app(settings)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the gateway did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def png_bytes(width: int = 64, height: int = 64, colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buf, format="PNG")
    return buf.getvalue()


def png_gradient(width: int = 64, height: int = 64) -> bytes:
    """A PNG with structure (a diagonal gradient): a clip made by moving it visibly moves."""
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :]
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    rgb = np.stack([x + 0 * y, y + 0 * x, (x + y) / 2], axis=-1).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that claims enormous dimensions: a decompression bomb's header."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


async def dashboard_login(client: httpx.AsyncClient, key: str) -> str:
    """Sign in to the dashboard as a browser does (the sign-in page's CSRF token, then the form); the
    session's form token, for posts."""
    import re

    page = await client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token is not None, page.text
    signed_in = await client.post("/login", data={"api_key": key, "csrf": token.group(1)})
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/", signed_in.headers
    jobs = await client.get("/jobs")
    csrf = re.search(r'name="csrf" value="([^"]+)"', jobs.text)
    assert csrf is not None, jobs.text
    return csrf.group(1)
