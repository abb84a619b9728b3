"""Webhook delivery latency, and the polls that server-sent events save.

    python bench/webhooks.py [--jobs 200] [--watched 10]

Runs ``framegate serve`` (SQLite, in-process worker, the fake backend so that generation costs
nothing) with a webhook endpoint on a loopback receiver. Part 1 submits ``--jobs`` jobs and measures,
per ``video.completed`` delivery, the time from the job's terminal state (its ``completed_at``) to the
receiver's arrival time. Part 2 follows ``--watched`` jobs that take about 2 s each, once with the
official SDK's ``create_and_poll`` (honouring ``openai-poll-after-ms``) and once with one
``GET /v1/videos/{id}/events`` stream, and counts the requests each needed. Prints one table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import openai
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gateway_overhead import free_port, make_key, start_server

from gateway.engine.db import Database, jobs

CONFIG = """
builtin_models = false
[backends.fake]
type = "fake"
models = [{ id = "fake-video", price_per_second = 1.0 }]
[backends.slow]
type = "fake"
step_seconds = 0.5
models = [{ id = "slow-video", price_per_second = 1.0 }]
"""


def receiver() -> tuple[str, dict[str, float], ThreadingHTTPServer]:
    arrivals: dict[str, float] = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            arrivals.setdefault(self.headers["webhook-id"], time.time())
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", arrivals, server


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def latency(
    url: str, key: str, database_url: str, hook_url: str, arrivals: dict[str, float], count: int
) -> list[float]:
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)
    client.webhooks.create(url=hook_url, name="bench", event_types=["video.completed"])
    ids = [client.videos.create(model="fake-video", prompt=f"job {i}").id for i in range(count)]
    deadline = time.time() + 600
    while len(arrivals) < count and time.time() < deadline:
        time.sleep(0.1)
    db = Database(database_url)
    with db.read() as conn:
        done = {
            r.id: r.completed_at
            for r in conn.execute(select(jobs.c.id, jobs.c.completed_at).where(jobs.c.id.in_(ids)))
        }
        from gateway.engine.db import webhook_events

        by_event = {
            r.id: r.subject_id for r in conn.execute(select(webhook_events.c.id, webhook_events.c.subject_id))
        }
    db.dispose()
    return [(arrivals[e] - done[v]) * 1000 for e, v in by_event.items() if e in arrivals and done.get(v)]


def polls(url: str, key: str, watched: int) -> tuple[list[int], list[int]]:
    seen: list[str] = []

    def count(request: httpx.Request) -> None:
        if request.method == "GET":
            seen.append(request.url.path)

    client = openai.OpenAI(
        base_url=f"{url}/v1",
        api_key=key,
        http_client=httpx.Client(event_hooks={"request": [count]}),
        max_retries=0,
    )
    polled = []
    for i in range(watched):
        seen.clear()
        client.videos.create_and_poll(model="slow-video", prompt=f"polled {i}")
        polled.append(len(seen))
    streamed = []
    with httpx.Client(base_url=url, headers={"authorization": f"Bearer {key}"}, timeout=60) as http:
        for i in range(watched):
            video = http.post("/v1/videos", json={"model": "slow-video", "prompt": f"streamed {i}"}).json()
            with http.stream("GET", f"/v1/videos/{video['id']}/events") as stream:
                events = sum(1 for line in stream.iter_lines() if line.startswith("event:"))
            streamed.append(events)
    return polled, streamed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--watched", type=int, default=10)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="framegate-webhooks-"))
    (tmp / "framegate.toml").write_text(CONFIG)
    database_url = f"sqlite:///{tmp / 'framegate.db'}"
    key = make_key(database_url)
    env = {
        **os.environ,
        "FRAMEGATE_DATA_DIR": str(tmp),
        "FRAMEGATE_DATABASE_URL": database_url,
        "FRAMEGATE_CONFIG": str(tmp / "framegate.toml"),
        "FRAMEGATE_OUTBOUND_ALLOW_HTTP": "true",
        "FRAMEGATE_OUTBOUND_ALLOW_NETWORKS": '["127.0.0.0/8"]',
        "FRAMEGATE_WORKERS": "2",
        "HF_HUB_OFFLINE": "1",
    }
    hook_url, arrivals, hook_server = receiver()
    port = free_port()
    server = start_server(env, port)
    try:
        url = f"http://127.0.0.1:{port}"
        lat = latency(url, key, database_url, hook_url, arrivals, args.jobs)
        polled, streamed = polls(url, key, args.watched)
    finally:
        server.terminate()
        server.wait(30)
        hook_server.shutdown()
    print(f"{'measure':<52} {'value':>12}")
    print(f"{'webhooks delivered / jobs':<52} {len(lat):>6} / {args.jobs:<5}")
    print(f"{'delivery latency p50 (terminal state -> receiver)':<52} {statistics.median(lat):>9.1f} ms")
    print(f"{'delivery latency p99':<52} {pct(lat, 0.99):>9.1f} ms")
    print(f"{'delivery latency max':<52} {max(lat):>9.1f} ms")
    print(f"{'GETs per ~2 s job, SDK create_and_poll (mean)':<52} {statistics.mean(polled):>12.1f}")
    print(f"{'requests per ~2 s job, one SSE stream':<52} {1:>12}")
    print(f"{'events received per SSE stream (mean)':<52} {statistics.mean(streamed):>12.1f}")
    print(f"{'requests saved per job by SSE':<52} {statistics.mean(polled) - 1:>12.1f}")


if __name__ == "__main__":
    main()
