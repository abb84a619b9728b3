"""Polls per completed job: the official SDK's ``create_and_poll`` honouring the gateway's adaptive
``openai-poll-after-ms`` hint, versus the same calls with a fixed 1 s interval.

    python bench/polls.py [--jobs 3]

Runs ``framegate serve`` on the embedded default (SQLite, in-process worker, shipped models) and
counts the ``GET /v1/videos/{id}`` requests each job needed. Prints one table (counts, not timings,
are the result; the times are shown for context).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx
import openai

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gateway_overhead import free_port, make_key, start_server

CASES = [("wan-tiny", "1"), ("shapes-fast", "3"), ("shapes-hq", "3")]


def _counting_client(url: str, key: str) -> tuple[openai.OpenAI, list[str]]:
    seen: list[str] = []

    def count(request: httpx.Request) -> None:
        if request.method == "GET":
            seen.append(request.url.path)

    http = httpx.Client(event_hooks={"request": [count]}, timeout=120)
    return openai.OpenAI(base_url=f"{url}/v1", api_key=key, http_client=http, max_retries=0), seen


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=3, help="jobs per case and mode")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="framegate-polls-"))
    database_url = f"sqlite:///{tmp / 'framegate.db'}"
    key = make_key(database_url)
    env = {**os.environ, "FRAMEGATE_DATA_DIR": str(tmp), "FRAMEGATE_DATABASE_URL": database_url}
    env["HF_HUB_OFFLINE"] = "1"
    port = free_port()
    server = start_server(env, port)
    rows = []
    try:
        url = f"http://127.0.0.1:{port}"
        client, seen = _counting_client(url, key)
        client.videos.create_and_poll(model="wan-tiny", prompt="warm-up")  # loads the model
        for model, seconds in CASES:
            counts: dict[str, list[int]] = {"fixed 0.5 s": [], "fixed 1 s": [], "adaptive hint": []}
            took: list[float] = []
            for _ in range(args.jobs):
                for mode in counts:
                    seen.clear()
                    started = time.monotonic()
                    fixed = {"fixed 0.5 s": 500, "fixed 1 s": 1000}.get(mode)
                    extra = {"poll_interval_ms": fixed} if fixed else {}
                    video = client.videos.create_and_poll(
                        model=model,
                        prompt="a red circle moving right",
                        seconds=seconds,
                        **extra,  # type: ignore[arg-type]
                    )
                    assert video.status == "completed", video
                    took.append(time.monotonic() - started)
                    counts[mode].append(len(seen))
            mean = {mode: sum(c) / args.jobs for mode, c in counts.items()}
            rows.append(
                (
                    model,
                    seconds,
                    f"{sum(took) / len(took):.1f}",
                    *(f"{mean[m]:.1f}" for m in ("fixed 0.5 s", "fixed 1 s", "adaptive hint")),
                )
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(
        f"{'model':<12} {'seconds':>7} {'job s':>6} {'polls, 0.5 s':>13} {'polls, 1 s':>11} "
        f"{'polls, hint':>12}"
    )
    for model, seconds, took_s, half, one, hint in rows:
        print(f"{model:<12} {seconds:>7} {took_s:>6} {half:>13} {one:>11} {hint:>12}")


if __name__ == "__main__":
    main()
