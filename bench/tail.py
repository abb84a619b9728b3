"""The API's tail under pressure: ``wrk`` on status polls of the embedded default, idle and while a
shapes job runs in the same gateway, beside the LiteLLM proxy (a mock model) on the same machine.

    python bench/tail.py [--seconds 10] [--connections 64 256] [--litellm /path/to/venv | --no-litellm]

Framegate runs as ``framegate serve`` with its defaults (SQLite, the in-process worker with its
generation threads at ``worker_nice``, the shipped models); ``wrk -t1 -cN`` polls
``GET /v1/videos/{id}`` of a completed job with an API key. "idle" waits for the queue to drain
first; "shapes job running" keeps a shapes-hq job running in that gateway for the whole run.
LiteLLM, installed into its own venv (``--litellm``: made there with ``pip install 'litellm[proxy]'``
from the package registry when it does not exist; ``--no-litellm`` skips it), answers an authed chat
completion from a mock model (``mock_response``), as in the issue's numbers. Prints one table. Needs
``wrk`` (``apt-get install wrk``). On 2 cores wrk shares them with the server: compare rows of one run.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gateway_overhead import free_port, make_key, start_server

LUA_POST = """wrk.method = "POST"
wrk.body = '{"model": "mock", "messages": [{"role": "user", "content": "hi"}]}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench"
"""
LITELLM_CONFIG = """model_list:
  - model_name: mock
    litellm_params:
      model: openai/mock
      mock_response: "hello"
general_settings:
  master_key: sk-bench
"""


def wrk(
    url: str, connections: int, seconds: float, headers: dict[str, str], script: Path | None = None
) -> dict:
    """One wrk run; requests/s, p50/p99 in ms and timeouts."""
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", "--timeout", "2s"]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    if script is not None:
        cmd += ["-s", str(script)]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout

    def ms(label: str) -> float:
        match = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if match is None:
            return float("nan")
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    timeouts = re.search(r"timeout (\d+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rps,
        "p50": ms("50%"),
        "p99": ms("99%"),
        "timeouts": int(timeouts.group(1)) if timeouts else 0,
        "errors": int(non2xx.group(1)) if non2xx else 0,
    }


def wait_up(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not come up")


def framegate(tmp: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    database_url = f"sqlite:///{tmp / 'framegate.db'}"
    key = make_key(database_url)
    port = free_port()
    env = {**os.environ, "FRAMEGATE_DATA_DIR": str(tmp), "FRAMEGATE_DATABASE_URL": database_url}
    env.pop("FRAMEGATE_CONFIG", None)
    server = start_server(env, port)
    url = f"http://127.0.0.1:{port}"
    wait_up(f"{url}/healthz")
    return server, url, key


def keep_busy(url: str, key: str, until: float) -> None:
    """Queue shapes-hq jobs so one is always running until ``until`` (they run one at a time)."""
    headers = {"Authorization": f"Bearer {key}"}
    body = {"model": "shapes-hq", "prompt": "a red ball moving right", "seconds": "3.5"}
    while time.monotonic() < until:
        queued = httpx.get(f"{url}/v1/videos?limit=20", headers=headers).json()["data"]
        if sum(v["status"] in ("queued", "in_progress") for v in queued) < 2:
            httpx.post(f"{url}/v1/videos", json=body, headers=headers)
        time.sleep(0.5)


def litellm_in(venv: Path) -> Path:
    """The ``litellm`` command of ``venv``, which is made and filled from the package registry first if
    it does not have one (a minute or two)."""
    command = venv / "bin" / "litellm"
    if not command.exists():
        print(f"installing litellm[proxy] into {venv} ...", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "pip"), "install", "-q"]
        subprocess.run([*pip, "litellm[proxy]"], check=True)
    return command


def drain(url: str, key: str, seconds: float = 120) -> None:
    """Until no job of ``key`` is queued or running (the idle rows must be idle)."""
    headers = {"Authorization": f"Bearer {key}"}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        page = httpx.get(f"{url}/v1/videos?limit=20", headers=headers).json()["data"]
        if not any(v["status"] in ("queued", "in_progress") for v in page):
            return
        time.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, nargs="+", default=[64, 256])
    parser.add_argument(
        "--litellm", default="/tmp/litellm-venv", help="a venv with litellm[proxy] (made if missing)"
    )
    parser.add_argument("--no-litellm", action="store_true", help="Framegate's rows only")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    tmp = Path(tempfile.mkdtemp(prefix="framegate-tail-"))
    rows: list[tuple[str, int, str, dict]] = []
    server, url, key = framegate(tmp)
    try:
        headers = {"Authorization": f"Bearer {key}"}
        video = httpx.post(
            f"{url}/v1/videos", json={"model": "shapes-fast", "prompt": "a red ball"}, headers=headers
        )
        video_id = video.json()["id"]
        while httpx.get(f"{url}/v1/videos/{video_id}", headers=headers).json()["status"] != "completed":
            time.sleep(0.2)
        poll = f"{url}/v1/videos/{video_id}"
        for connections in args.connections:
            drain(url, key)
            rows.append(("framegate", connections, "idle", wrk(poll, connections, args.seconds, headers)))
            busy = threading.Thread(target=keep_busy, args=(url, key, time.monotonic() + args.seconds + 3))
            busy.start()
            time.sleep(2)  # a job is running
            rows.append(
                (
                    "framegate",
                    connections,
                    "shapes job running",
                    wrk(poll, connections, args.seconds, headers),
                )
            )
            busy.join()
    finally:
        server.terminate()
        server.wait(10)
    litellm = None if args.no_litellm else litellm_in(Path(args.litellm))
    if litellm is not None:
        config, script = tmp / "litellm.yaml", tmp / "post.lua"
        config.write_text(LITELLM_CONFIG)
        script.write_text(LUA_POST)
        port = free_port()
        proxy = subprocess.Popen(
            [str(litellm), "--config", str(config), "--port", str(port), "--host", "127.0.0.1"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_up(f"http://127.0.0.1:{port}/health/liveliness", 120)
            for connections in args.connections:
                result = wrk(
                    f"http://127.0.0.1:{port}/chat/completions", connections, args.seconds, {}, script
                )
                rows.append(("litellm proxy", connections, "mock model", result))
        finally:
            proxy.terminate()
            proxy.wait(10)
    print(
        f"\nwrk -t1 -cN -d{args.seconds:g}s, status polls (Framegate) and mock chat completions (LiteLLM)\n"
    )
    head = ("server", "conns", "condition", "req/s", "p50 ms", "p99 ms", "timeouts", "non-2xx")
    print("{:<14} {:>5} {:<20} {:>8} {:>8} {:>8} {:>8} {:>8}".format(*head))
    for server_name, connections, condition, r in rows:
        print(
            f"{server_name:<14} {connections:>5} {condition:<20} {r['rps']:>8.0f} {r['p50']:>8.1f} "
            f"{r['p99']:>8.1f} {r['timeouts']:>8} {r['errors']:>8}"
        )


if __name__ == "__main__":
    main()
