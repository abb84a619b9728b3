"""Creates per second: ``wrk`` posting ``POST /v1/videos`` to SQLite (one process) and to PostgreSQL
(one and two processes), from one account and across many.

    python bench/creates.py [--seconds 10] [--connections 64] [--accounts 64] [--rounds 3] [--postgres URL]

The gateway runs as ``framegate serve`` with ``FRAMEGATE_WORKERS=0`` (the jobs stay queued: this
measures the create path, key check, routing, credit hold and job insert, not generation) on a
fake model. "many accounts" sends each request with the next of ``--accounts`` keys (each account's
hold locks its own row, so one account's creates queue behind each other). The many-account run is
repeated ``--rounds`` times on the same database: every create stays queued, so the later rounds
show whether a create's cost grows with the queue (it did: the router's fleet snapshot aggregates
the queue, and each expiry had every in-flight create run it). wrk is a C client, so on this 2-core
machine the numbers are the gateway's, not a Python load generator's. Prints one table.
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gateway_overhead import api_only_env, free_port, make_key, start_server
from tail import wrk

BODY = '{"model": "fake-video", "prompt": "a red circle moving right", "seconds": 1}'


def lua(keys: list[str]) -> str:
    """A wrk script posting BODY with each request's key the next of ``keys``."""
    quoted = ", ".join(f'"{key}"' for key in keys)
    return f"""keys = {{{quoted}}}
n = 0
request = function()
  n = n + 1
  local headers = {{}}
  headers["Content-Type"] = "application/json"
  headers["Authorization"] = "Bearer " .. keys[(n % #keys) + 1]
  return wrk.format("POST", "/v1/videos", headers, '{BODY}')
end
"""


@contextmanager
def postgres(admin_url: str) -> Iterator[str]:
    import psycopg

    name = f"framegate_bench_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def queued_jobs(database_url: str) -> int:
    """How many jobs are queued (all of them: nothing runs) as a run starts."""
    from sqlalchemy import func, select

    from gateway.engine.db import Database, jobs

    db = Database(database_url, pool_size=1)
    try:
        with db.read() as conn:
            return int(conn.execute(select(func.count()).select_from(jobs)).scalar_one())
    finally:
        db.dispose()


def measure(database_url: str, processes: int, args: argparse.Namespace, tmp: Path) -> list[dict]:
    env = api_only_env(tmp, database_url)
    keys = [make_key(database_url, f"bench-{i}") for i in range(args.accounts)]
    port = free_port()
    server = start_server(env, port, extra=["--processes", str(processes)])
    results = []
    try:
        url = f"http://127.0.0.1:{port}/v1/videos"
        # (label, keys, warm up first): the later many-account rounds go on from the round before.
        runs = [("one account", keys[:1], True)] + [
            (f"many accounts{f' #{i + 1}' if i else ''}", keys, i == 0) for i in range(args.rounds)
        ]
        for label, chosen, warm_up in runs:
            script = tmp / f"creates-{len(chosen)}.lua"
            script.write_text(lua(chosen))
            if warm_up:
                wrk(url, args.connections, 2, {}, script)  # connections, caches, plans
            queued = queued_jobs(database_url)
            results.append(
                {"accounts": label, "queued": queued, **wrk(url, args.connections, args.seconds, {}, script)}
            )
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--accounts", type=int, default=64)
    parser.add_argument(
        "--rounds", type=int, default=3, help="many-account runs in a row, the queue growing (default 3)"
    )
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    rows: list[tuple[str, int, dict]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for result in measure(f"sqlite:///{tmp}/framegate.db", 1, args, Path(tmp)):
            rows.append(("sqlite", 1, result))
    for processes in (1, 2):
        with postgres(args.postgres) as url, tempfile.TemporaryDirectory() as tmp:
            for result in measure(url, processes, args, Path(tmp)):
                rows.append(("postgresql", processes, result))
    print(
        f"\nwrk -t1 -c{args.connections} -d{args.seconds:g}s, POST /v1/videos (fake model, jobs stay queued)"
    )
    head = (
        "database",
        "processes",
        "accounts",
        "queued",
        "creates/s",
        "p50 ms",
        "p99 ms",
        "non-2xx",
        "timeouts",
    )
    print("{:<11} {:>9} {:<17} {:>7} {:>9} {:>8} {:>8} {:>8} {:>8}".format(*head))
    for database, processes, r in rows:
        print(
            f"{database:<11} {processes:>9} {r['accounts']:<17} {r['queued']:>7} {r['rps']:>9.0f} "
            f"{r['p50']:>8.1f} {r['p99']:>8.1f} {r['errors']:>8} {r['timeouts']:>8}"
        )


if __name__ == "__main__":
    main()
