"""Point reads (a status poll's key check and job read) give what SQLAlchemy gives, and see every commit."""

from __future__ import annotations

import gc
import os
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update

import billing
from gateway.engine.db import Database, jobs, upgrade
from gateway.engine.jobs.store import JobStore
from gateway.engine.keys import create_key, lookup, revocation_version, revoke_key


def _job(account_id: str, job_id: str) -> dict[str, Any]:
    return {
        "id": job_id,
        "account_id": account_id,
        "status": "queued",
        "model": "shapes-fast",
        "backend": "local",
        "prompt": "a red ball \u2019 rolls \u00e9",
        "seconds": "2",
        "size": "256x256",
        "params": {"seed": 7, "steps": 4, "nested": {"a": [1, 2.5, None]}},
        "progress": 0,
        "quoted_mc": 12_345_678_901,
        "eta_seconds": 1.5,
        "created_at": time.time(),
        "cancel_requested": True,
        "result": None,
    }


def _sqlalchemy_row(db: Database, job_id: str) -> dict[str, Any]:
    with db.read() as conn:
        return dict(conn.execute(select(jobs).where(jobs.c.id == job_id)).one()._mapping)


def test_a_job_read_equals_sqlalchemys_and_sees_each_commit(db: Database) -> None:
    store = JobStore(db)
    with db.write() as conn:
        account = billing.create_account(conn, "points")
        other = billing.create_account(conn, "someone else")
    assert store.get(account, "video_points") is None
    with db.write() as conn:
        conn.execute(insert(jobs).values(**_job(account, "video_points")))
    row = store.get(account, "video_points")
    assert row is not None
    assert dict(row._mapping) == _sqlalchemy_row(db, "video_points")
    assert row.cancel_requested is True and row.params["nested"] == {"a": [1, 2.5, None]}
    assert store.get(other, "video_points") is None  # another account's id reads as absent

    with db.write() as conn:
        conn.execute(
            update(jobs)
            .where(jobs.c.id == "video_points")
            .values(progress=40, result={"qc": {"passed": True}}, cancel_requested=False)
        )
    row = store.get(account, "video_points")
    assert (row.progress, row.result, row.cancel_requested) == (40, {"qc": {"passed": True}}, False)
    assert dict(row._mapping) == _sqlalchemy_row(db, "video_points")

    with db.write() as conn:
        conn.execute(update(jobs).where(jobs.c.id == "video_points").values(deleted_at=time.time()))
    assert store.get(account, "video_points") is None


def test_a_revoked_key_is_refused_on_the_next_read(db: Database) -> None:
    with db.write() as conn:
        account = billing.create_account(conn, "keys")
        key = create_key(conn, account)
    before = revocation_version(db)
    found = lookup(db, key.secret)
    assert found is not None and found.account_id == account
    with db.write() as conn:
        assert revoke_key(conn, found.key_id)
    assert revocation_version(db) == before + 1
    assert lookup(db, key.secret) is None
    assert lookup(db, "fg-not-a-key") is None


def _open_files(path: str) -> int:
    fds = Path("/proc/self/fd")
    return sum(1 for fd in fds.iterdir() if os.path.realpath(fd) == path) if fds.exists() else 0


def test_a_thread_that_ends_lets_go_of_its_connection(tmp_path: Path) -> None:
    """Thread pools retire idle threads and start new ones: each one's connection must close with it."""
    db = Database(f"sqlite:///{tmp_path / 'fg.db'}")
    upgrade(db)
    path = os.path.realpath(tmp_path / "fg.db")
    revocation_version(db)
    before = _open_files(path)
    for _ in range(40):
        thread = threading.Thread(target=revocation_version, args=(db,))
        thread.start()
        thread.join()
    gc.collect()
    # The last thread's locals may be let go of a moment after join() returns: allow that one.
    assert _open_files(path) <= before + 1
    assert revocation_version(db) == 0  # this thread's connection still works
    db.dispose()


FORKS = """
import subprocess, sys, threading
from gateway.engine.db import Database, upgrade
from gateway.engine.keys import revocation_version
db = Database(sys.argv[1])
upgrade(db)
stop = False
def read():
    while not stop:
        revocation_version(db)
readers = [threading.Thread(target=read) for _ in range(2)]
for thread in readers:
    thread.start()
for _ in range(200):  # ffmpeg is started this way (a preexec_fn: Python runs in the child)
    subprocess.run(["true"], preexec_fn=lambda: None, check=True)
stop = True
for thread in readers:
    thread.join()
print("forked 200 times")
"""


def test_subprocesses_start_while_other_threads_read(tmp_path: Path) -> None:
    """A child forked while reader threads are alive drops their connections: it must not close them
    (that waited forever on a lock a reader held at the fork, and the encode that forked hung)."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", FORKS, f"sqlite:///{tmp_path / 'fg.db'}"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0 and "forked 200 times" in done.stdout, done.stderr[-2000:]
