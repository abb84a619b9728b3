"""The CPU one status poll costs in the app, without a server or sockets: ``GET /v1/videos/{id}`` of a
completed job called straight through the ASGI app (every middleware, the key check, both point reads,
the rendering), with the poll as the plain route the gateway registers first (``videos.POLL_ROUTE``)
and with that route taken out, so FastAPI's documented route answers it as every other route does.

    python bench/poll_cpu.py [--calls 2000] [--rounds 5]

A fake backend on a fresh SQLite file; both rows in one run (this machine is noisy: compare them, not
runs). Prints one table: microseconds per poll (best and median round) and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import billing
from gateway.api import videos
from gateway.app import create_app
from gateway.engine.keys import create_key
from gateway.settings import Settings

CONFIG = """
[backends.fake]
type = "fake"
models = [{ id = "fake-video", price_per_second = 1.0 }]
"""


def _scope(path: str, key: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "headers": [(b"host", b"127.0.0.1"), (b"authorization", f"Bearer {key}".encode())],
    }


async def _rounds(app: Any, scope: dict[str, Any], calls: int, rounds: int) -> list[float]:
    statuses: set[int] = set()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.add(message["status"])

    for _ in range(calls // 4):  # warm caches (the key, the prepared statements)
        await app(dict(scope), receive, send)
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(calls):
            await app(dict(scope), receive, send)
        times.append((time.perf_counter() - started) / calls * 1e6)
    if statuses != {200}:
        raise SystemExit(f"polls answered {statuses}")
    return times


async def main(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="framegate-pollcpu-"))
    (tmp / "framegate.toml").write_text(CONFIG)
    settings = Settings(
        data_dir=tmp / "data",
        database_url=f"sqlite:///{tmp / 'framegate.db'}",
        config=tmp / "framegate.toml",
        models_dir=tmp / "models",
        poll_seconds=0.1,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        with app.state.fg.db.write() as conn:
            account = billing.ensure_account(conn, "bench")
            billing.grant(conn, account, billing.millicredits(100_000))
            key = create_key(conn, account).secret
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench")
        headers = {"Authorization": f"Bearer {key}"}
        video = (
            await client.post("/v1/videos", json={"model": "fake-video", "prompt": "a dot"}, headers=headers)
        ).json()
        while (await client.get(f"/v1/videos/{video['id']}", headers=headers)).json()[
            "status"
        ] != "completed":
            await asyncio.sleep(0.1)
        scope = _scope(f"/v1/videos/{video['id']}", key)
        rows = [("plain route (default)", await _rounds(app, scope, args.calls, args.rounds))]
        app.router.routes.remove(videos.POLL_ROUTE)
        rows.append(("FastAPI route", await _rounds(app, scope, args.calls, args.rounds)))
        app.router.routes.insert(0, videos.POLL_ROUTE)
        await client.aclose()
    base = statistics.median(rows[1][1])
    print(f"\nGET /v1/videos/{{id}} through the ASGI app, {args.calls} calls x {args.rounds} rounds\n")
    print(f"{'poll served by':24s} {'best us':>8s} {'median us':>10s} {'vs FastAPI':>10s}")
    for name, times in rows:
        median = statistics.median(times)
        print(f"{name:24s} {min(times):8.0f} {median:10.0f} {median / base:9.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    asyncio.run(main(parser.parse_args()))
