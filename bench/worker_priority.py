"""Where generation should run beside the API: status polls (``wrk``) while a shapes job runs, with the
worker in the gateway's process at equal priority, in the gateway's process below the API's priority
(``FRAMEGATE_WORKER_NICE``), and in a separate process below the API's priority.

    python bench/worker_priority.py [--seconds 10] [--connections 64 256] [--nice 10]

Each row is one gateway on a fresh SQLite file (the shipped models); "separate process" is an
API-only gateway (``FRAMEGATE_WORKERS=0``) plus a second gateway process at ``nice`` that runs the
jobs from the same database. Prints one table: requests/s, p50 and p99 of the polls, idle and busy.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gateway_overhead import free_port, make_key, start_server
from tail import drain, keep_busy, wrk


def completed_video(url: str, key: str) -> str:
    headers = {"Authorization": f"Bearer {key}"}
    body = {"model": "shapes-fast", "prompt": "a red ball"}
    video_id: str = httpx.post(f"{url}/v1/videos", json=body, headers=headers).json()["id"]
    while httpx.get(f"{url}/v1/videos/{video_id}", headers=headers).json()["status"] != "completed":
        time.sleep(0.3)
    return video_id


def measure(layout: str, nice: int, args: argparse.Namespace) -> list[tuple[int, str, dict]]:
    tmp = Path(tempfile.mkdtemp(prefix="framegate-priority-"))
    database_url = f"sqlite:///{tmp / 'framegate.db'}"
    key = make_key(database_url)
    env = {**os.environ, "FRAMEGATE_DATA_DIR": str(tmp), "FRAMEGATE_DATABASE_URL": database_url}
    env.pop("FRAMEGATE_CONFIG", None)
    processes: list[subprocess.Popen[bytes]] = []
    port = free_port()
    if layout == "separate process":
        processes.append(start_server({**env, "FRAMEGATE_WORKERS": "0"}, port))
        serve = [sys.executable, "-m", "gateway.cli.main", "serve", "--port", str(free_port())]
        processes.append(
            subprocess.Popen(
                ["nice", "-n", str(nice), *serve],  # the whole process below the API's
                env={**env, "FRAMEGATE_WORKER_NICE": "0"},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    else:
        processes.append(start_server({**env, "FRAMEGATE_WORKER_NICE": str(nice)}, port))
    url = f"http://127.0.0.1:{port}"
    rows = []
    try:
        poll = f"{url}/v1/videos/{completed_video(url, key)}"
        headers = {"Authorization": f"Bearer {key}"}
        for connections in args.connections:
            drain(url, key)
            rows.append((connections, "idle", wrk(poll, connections, args.seconds, headers)))
            until = time.monotonic() + args.seconds + 3
            busy = threading.Thread(target=keep_busy, args=(url, key, until))
            busy.start()
            time.sleep(2)  # a job is running
            rows.append((connections, "shapes job running", wrk(poll, connections, args.seconds, headers)))
            busy.join()
    finally:
        for process in processes:
            process.terminate()
            process.wait(30)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--nice", type=int, default=10, help="the lower priority tried (1-19)")
    args = parser.parse_args()
    layouts = (("same process", 0), ("same process", args.nice), ("separate process", args.nice))
    results = [(layout, nice, row) for layout, nice in layouts for row in measure(layout, nice, args)]
    print(f"\nwrk -t1 -cN -d{args.seconds:g}s status polls; generation placed and prioritized as shown\n")
    head = ("generation", "nice", "conns", "condition", "req/s", "p50 ms", "p99 ms", "timeouts")
    print("{:<17} {:>4} {:>5} {:<19} {:>7} {:>7} {:>7} {:>8}".format(*head))
    for layout, nice, (connections, condition, r) in results:
        print(
            f"{layout:<17} {nice:>4} {connections:>5} {condition:<19} {r['rps']:>7.0f} {r['p50']:>7.1f} "
            f"{r['p99']:>7.1f} {r['timeouts']:>8}"
        )


if __name__ == "__main__":
    main()
