"""Create and status throughput under load for 1 vs 2 gateway processes sharing PostgreSQL.

    python bench/load.py [--clients 64] [--seconds 5] [--postgres postgresql://postgres@127.0.0.1:5432/postgres]

Each run makes a fresh PostgreSQL database, starts ``framegate serve --processes N`` (uvicorn workers
sharing one port, API only: ``FRAMEGATE_WORKERS=0`` so no job execution competes for the CPU), and
drives it from another process over keep-alive HTTP/1.1 on loopback: a closed loop of creates
(``POST /v1/videos`` on a fake model: key check, routing, credit hold and job insert in one
transaction) from one account, then from one account per client (a hold locks its account's row,
so one account's creates are serialized), and of status polls. Prints requests/s and p50/p99 per
process count, and the ratio.
On a 2-core machine the load generator shares the cores with the gateways: read the ratio, not the
absolute numbers.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _load import http_request, run_load
from gateway_overhead import api_only_env, free_port, make_key, start_server


def one_run(
    processes: int, admin_url: str, clients: int, seconds: float
) -> dict[str, tuple[float, float, float]]:
    import psycopg

    name = f"framegate_bench_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            env = api_only_env(Path(tmp), url)
            key = make_key(url)
            keys = [make_key(url, f"bench-{i}") for i in range(clients)]
            port = free_port()
            proc = start_server(env, port, extra=["--processes", str(processes)])
            try:
                body = {"model": "fake-video", "prompt": "a red circle moving right", "seconds": 1}
                created = httpx.post(
                    f"http://127.0.0.1:{port}/v1/videos",
                    json=body,
                    headers={"Authorization": f"Bearer {key}"},
                ).json()
                out = {}
                cells: list[tuple[str, bytes | list[bytes]]] = [
                    ("create", http_request("POST", "/v1/videos", key, body)),
                    ("create, many accounts", [http_request("POST", "/v1/videos", k, body) for k in keys]),
                    ("status", http_request("GET", f"/v1/videos/{created['id']}", key)),
                ]
                for label, request in cells:
                    result = run_load("127.0.0.1", port, request, clients=clients, seconds=seconds)
                    if result.errors:
                        print(f"  {processes} process(es) {label}: {result.errors} errors", file=sys.stderr)
                    out[label] = (result.rps, result.pct(0.5), result.pct(0.99))
                return out
            finally:
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    results = {n: one_run(n, args.postgres, args.clients, args.seconds) for n in (1, 2)}
    print(
        f"\nPostgreSQL, {args.clients} keep-alive clients, closed loop, {args.seconds:g} s per cell, "
        f"{os.cpu_count()} cores\n"
    )
    labels = ("create", "create, many accounts", "status")
    print("| request | processes | req/s | p50 ms | p99 ms |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for label in labels:
        for n in (1, 2):
            rps, p50, p99 = results[n][label]
            print(f"| {label} | {n} | {rps:.0f} | {p50:.1f} | {p99:.1f} |")
    for label in labels:
        print(f"\n{label}: 2 processes / 1 process = {results[2][label][0] / results[1][label][0]:.2f}x")


if __name__ == "__main__":
    main()
