"""Gateway overhead: throughput and latency of creates and status polls over real HTTP on loopback,
and a tiny-model job through the gateway versus calling the pipeline directly.

    python bench/gateway_overhead.py [--clients 64] [--seconds 5] [--database-url URL]

The gateway runs as a separate ``framegate serve`` process (uvicorn, one process); the load
comes from another process (bench/_load.py). Prints one table; ratios are from one run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _load import http_request, run_load

import billing
from gateway.engine.db import Database, upgrade
from gateway.engine.keys import create_key

CONFIG = """
[backends.fake]
type = "fake"
models = [{ id = "fake-video", price_per_second = 0.001 }]
"""


def api_only_env(tmp: Path, database_url: str) -> dict[str, str]:
    """The environment of a benchmark gateway: API only (no workers), the fake model, in ``tmp``."""
    (tmp / "framegate.toml").write_text(CONFIG)
    return {
        **os.environ,
        "FRAMEGATE_DATA_DIR": str(tmp),
        "FRAMEGATE_DATABASE_URL": database_url,
        "FRAMEGATE_CONFIG": str(tmp / "framegate.toml"),
        "FRAMEGATE_WORKERS": "0",
        "HF_HUB_OFFLINE": "1",
    }


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(env: dict[str, str], port: int, extra: list[str] | None = None) -> subprocess.Popen[bytes]:
    log = tempfile.TemporaryFile()  # noqa: SIM115 (the server writes to it for as long as it runs)
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli.main", "serve", "--port", str(port), *(extra or [])],
        env=env,
        stdout=subprocess.DEVNULL,
        # A file, not a pipe: nobody reads a pipe while the benchmark runs, and a server that fills
        # one (a traceback per request) blocks on its next log line.
        stderr=log,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    log.seek(0)
    raise RuntimeError(log.read().decode(errors="replace") or "server did not start")


def make_key(database_url: str, account_name: str = "bench") -> str:
    db = Database(database_url)
    upgrade(db)
    with db.write() as conn:
        account = billing.ensure_account(conn, account_name)
        billing.grant(conn, account, billing.millicredits(10_000_000))
        key = create_key(conn, account).secret
    db.dispose()
    return key


def job_through_gateway(url: str, key: str, body: dict) -> tuple[float, float]:
    """Submit, poll until completed, download. Returns (wall seconds, the adapter's own run seconds)."""
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120) as client:
        started = time.perf_counter()
        video = client.post("/v1/videos", json=body).json()
        while video["status"] not in ("completed", "failed"):
            time.sleep(0.02)  # faster than the hint, to see the gateway's own latency
            video = client.get(f"/v1/videos/{video['id']}").json()
        client.get(f"/v1/videos/{video['id']}/content").raise_for_status()
        wall = time.perf_counter() - started
        assert video["status"] == "completed", video
        meta = client.get(f"/v1/videos/{video['id']}/content", params={"variant": "metadata"}).json()
    return wall, float(meta["run_seconds"])


class DirectRunner:
    """The same job by hand: load once, then the pipeline call (and the pipeline plus MP4 encoding)."""

    def __init__(self, models_dir: Path, body: dict, out_dir: Path) -> None:
        from local_models import BUILTIN_ENTRIES, VideoRequest, get_family, load_entry, resolve

        self.entry = next(e for e in BUILTIN_ENTRIES if e.id == body["model"])
        self.loaded = load_entry(self.entry, "t2v", models_dir)
        w, h = (int(x) for x in body["size"].split("x"))
        spec = get_family(self.entry.family).spec(self.entry)
        self.params = resolve(
            spec,
            VideoRequest(
                mode="t2v", size=(w, h), seconds=body["seconds"], steps=body["steps"], seed=body["seed"]
            ),
        )
        self.prompt = body["prompt"]
        self.out = out_dir / "direct.mp4"
        self.run()  # warm-up

    def run(self) -> tuple[float, float]:
        from local_models import run_pipeline
        from local_models.video import encode_mp4

        started = time.perf_counter()
        frames = run_pipeline(
            self.loaded,
            self.entry.family,
            self.params,
            self.prompt,
            None,
            lambda d, t: None,
            threading.Event(),
        ).frames
        pipe = time.perf_counter() - started
        encode_mp4(frames, self.params.fps, self.out)
        return pipe, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp dir")
    parser.add_argument("--job-runs", type=int, default=7)
    parser.add_argument("--poll-rate", type=float, default=1000, help="offered status polls per second")
    parser.add_argument("--create-rate", type=float, default=200, help="offered creates per second")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="framegate-bench-"))
    database_url = args.database_url or f"sqlite:///{tmp / 'framegate.db'}"
    env = api_only_env(tmp, database_url)
    key = make_key(database_url)
    rows: list[tuple[str, str, str, str, str, str]] = []

    port = free_port()
    server = start_server(env, port)
    try:
        url = f"http://127.0.0.1:{port}"
        video = httpx.post(
            f"{url}/v1/videos",
            json={"prompt": "p", "model": "fake-video"},
            headers={"Authorization": f"Bearer {key}"},
        ).json()
        poll = http_request("GET", f"/v1/videos/{video['id']}", key)
        create = http_request(
            "POST", "/v1/videos", key, {"prompt": "a red circle moving right", "model": "fake-video"}
        )
        run_load("127.0.0.1", port, poll, clients=8, seconds=1)  # warm-up
        for name, request, rate in (
            ("status poll", poll, args.poll_rate),
            ("create", create, args.create_rate),
        ):
            for offered in (None, rate):
                r = run_load(
                    "127.0.0.1", port, request, clients=args.clients, seconds=args.seconds, rate=offered
                )
                load = "saturation" if offered is None else f"{offered:g}/s offered"
                rows.append(
                    (name, load, f"{r.rps:,.0f}/s", f"{r.pct(0.5):.1f}", f"{r.pct(0.99):.1f}", str(r.errors))
                )
    finally:
        server.terminate()
        server.wait(timeout=30)

    body = {
        "prompt": "a red circle moving right",
        "model": "wan-tiny",
        "size": "256x256",
        "seconds": 2,
        "steps": 12,
        "seed": 1,
    }
    env["FRAMEGATE_WORKERS"] = "1"
    port = free_port()
    server = start_server(env, port)
    through: list[float] = []
    orchestration: list[float] = []
    pipe_only: list[float] = []
    with_encode: list[float] = []
    try:
        job_through_gateway(f"http://127.0.0.1:{port}", key, body)  # loads the model
        direct = DirectRunner(tmp / "models", body, tmp)
        # Interleaved, so that drift on this noisy machine hits both paths alike.
        for _ in range(args.job_runs):
            time.sleep(1)  # let the other process's OpenMP threads stop spinning (2 cores)
            wall, run = job_through_gateway(f"http://127.0.0.1:{port}", key, body)
            through.append(wall)
            orchestration.append(wall - run)
            time.sleep(1)
            pipe, encoded = direct.run()
            pipe_only.append(pipe)
            with_encode.append(encoded)
    finally:
        server.terminate()
        server.wait(timeout=30)

    db_name = "PostgreSQL" if database_url.startswith("postgres") else "SQLite"
    print(
        f"\nGateway overhead ({db_name}, {args.clients} concurrent clients, {args.seconds:g} s per phase, "
        f"{os.cpu_count()} CPUs, FakeAdapter, API-only process)\n"
    )
    print(
        f"| {'operation':<12} | {'load':<18} | {'throughput':>10} | {'p50 ms':>7} | {'p99 ms':>7} | "
        f"{'errors':>6} |"
    )
    print(f"|{'-' * 14}|{'-' * 20}|{'-' * 12}|{'-' * 9}|{'-' * 9}|{'-' * 8}|")
    for name, load, rps, p50, p99, errors in rows:
        print(f"| {name:<12} | {load:<18} | {rps:>10} | {p50:>7} | {p99:>7} | {errors:>6} |")
    g, p, e = statistics.median(through), statistics.median(pipe_only), statistics.median(with_encode)
    o = statistics.median(orchestration)
    print(
        f"\nTiny-model job (wan-tiny, {body['size']}, {body['seconds']} s, {body['steps']} steps), "
        f"median of {args.job_runs}, interleaved:\n"
    )
    print("| path                                              | seconds | gateway / this |")
    print("|---------------------------------------------------|---------|----------------|")
    print(f"| through the gateway (submit -> MP4 downloaded)    | {g:7.3f} |          1.000 |")
    print(f"| pipeline call only                                | {p:7.3f} | {g / p:14.3f} |")
    print(f"| pipeline call + MP4 encode                        | {e:7.3f} | {g / e:14.3f} |")
    print(
        f"\nGateway orchestration (submit -> MP4 downloaded, minus the adapter run): "
        f"median {o * 1000:.0f} ms "
        f"= {o / g * 100:.1f}% of the job (includes up to 20 ms of poll granularity)"
    )


if __name__ == "__main__":
    main()
