"""``Idempotency-Key``: a key replays its first response for 24 hours, then is forgotten.

On SQLite and PostgreSQL, with a clock the tests set (no sleeps).
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

import billing
from gateway.engine import idempotency
from gateway.engine.db import idempotency_keys

from ..support import Gateway, auth

HOUR = 3600.0
T0 = 1_750_000_000.0  # an arbitrary moment the key is first used


def _request(db, key: str = "retry-1", body: str = "p") -> idempotency.IdempotentRequest:  # type: ignore[no-untyped-def]
    with db.write() as conn:
        account_id = billing.create_account(conn, f"a{time.monotonic_ns()}")
    return idempotency.IdempotentRequest(
        account_id, key, "videos.create", idempotency.request_hash({"prompt": body})
    )


def _remember(db, req: idempotency.IdempotentRequest, at: float = T0) -> None:  # type: ignore[no-untyped-def]
    with db.write() as conn:
        idempotency.remember(conn, req, 200, {"id": "video_first"}, now=at)


def _find(db, req: idempotency.IdempotentRequest, at: float) -> idempotency.Replay | None:  # type: ignore[no-untyped-def]
    with db.write() as conn:
        return idempotency.find(conn, req, now=at)


def _stored_keys(db) -> int:  # type: ignore[no-untyped-def]
    with db.read() as conn:
        return len(conn.execute(select(idempotency_keys.c.key)).all())


def test_a_key_replays_for_just_under_a_day(db) -> None:  # type: ignore[no-untyped-def]
    req = _request(db)
    _remember(db, req)
    for later in (0.0, 6.0, HOUR, 12 * HOUR, 23.9 * HOUR):
        replay = _find(db, req, T0 + later)
        assert replay is not None, f"forgotten {later / HOUR:.3f} h after it was used"
        assert replay.status_code == 200 and replay.body == {"id": "video_first"}


def test_a_key_is_forgotten_just_over_a_day_later(db) -> None:  # type: ignore[no-untyped-def]
    req = _request(db)
    _remember(db, req)
    assert _find(db, req, T0 + 24.1 * HOUR) is None
    # ...and forgotten for good: a retry now creates anew, and may reuse the key for another body.
    assert _find(db, req, T0 + 1.0) is None
    other = idempotency.IdempotentRequest(
        req.account_id, req.key, req.route, idempotency.request_hash({"prompt": "other"})
    )
    _remember(db, other, at=T0 + 24.2 * HOUR)
    assert _find(db, other, T0 + 24.3 * HOUR) is not None


def test_a_reused_key_with_another_body_conflicts_within_the_window(db) -> None:  # type: ignore[no-untyped-def]
    from gateway.errors import Conflict

    req = _request(db)
    _remember(db, req)
    other = idempotency.IdempotentRequest(
        req.account_id, req.key, req.route, idempotency.request_hash({"prompt": "different"})
    )
    with pytest.raises(Conflict):
        _find(db, other, T0 + 23.9 * HOUR)


def test_expire_keeps_keys_inside_the_window_and_drops_older_ones(db) -> None:  # type: ignore[no-untyped-def]
    recent = _request(db, key="recent")
    old = _request(db, key="old")
    _remember(db, old, at=T0)
    _remember(db, recent, at=T0 + 0.2 * HOUR)
    # 23.9 h after the first: both are inside the window.
    with db.write() as conn:
        assert idempotency.expire(conn, now=T0 + 23.9 * HOUR) == 0
    assert _stored_keys(db) == 2
    assert _find(db, old, T0 + 23.9 * HOUR) is not None
    # 24.1 h after the first: only the first is past it.
    with db.write() as conn:
        assert idempotency.expire(conn, now=T0 + 24.1 * HOUR) == 1
    assert _stored_keys(db) == 1
    assert _find(db, recent, T0 + 24.1 * HOUR) is not None
    assert _find(db, old, T0 + 24.1 * HOUR) is None


async def test_a_retried_create_returns_the_same_video_and_charges_once(gw: Gateway) -> None:
    key = gw.new_key(credits=10)
    headers = auth(key) | {"Idempotency-Key": "create-once"}
    body = {"prompt": "a red circle moves right", "model": "fake-video", "seconds": 2}
    first = await gw.client.post("/v1/videos", json=body, headers=headers)
    assert first.status_code == 200, first.text
    held = gw.balance(key).held_mc
    assert held > 0
    again = await gw.client.post("/v1/videos", json=body, headers=headers)
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.headers.get("idempotent-replayed") == "true"
    assert gw.balance(key).held_mc == held  # the retry held nothing more
    done = await gw.wait(key, first.json()["id"])
    assert done["status"] == "completed"
    balance = gw.balance(key)
    assert balance.held_mc == 0 and balance.balance_mc == 10_000 - held  # charged once
    listing = (await gw.client.get("/v1/videos", headers=auth(key))).json()
    assert [v["id"] for v in listing["data"]] == [first.json()["id"]]


@pytest.mark.parametrize(
    ("key", "ok"), [("k" * 255, True), ("k" * 256, False), ("", False), ("tab\there", False), ("é-1", True)]
)
async def test_idempotency_keys_are_1_to_255_printable_characters(gw: Gateway, key: str, ok: bool) -> None:
    api_key = gw.new_key()
    answer = await gw.client.post(
        "/v1/projects", json={"name": "p"}, headers=auth(api_key) | {"Idempotency-Key": key.encode()}
    )
    if ok:
        assert answer.status_code == 200, answer.text
    else:
        assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_idempotency_key"
        assert answer.json()["error"]["param"] == "Idempotency-Key"


async def test_a_retried_project_create_replays_and_another_body_conflicts(gw: Gateway) -> None:
    api_key = gw.new_key()
    headers = auth(api_key) | {"Idempotency-Key": "project-once"}
    first = await gw.client.post("/v1/projects", json={"name": "teaser"}, headers=headers)
    again = await gw.client.post("/v1/projects", json={"name": "teaser"}, headers=headers)
    assert first.status_code == again.status_code == 200 and again.json() == first.json()
    assert "idempotent-replayed" not in first.headers and again.headers["idempotent-replayed"] == "true"
    other = await gw.client.post("/v1/projects", json={"name": "another"}, headers=headers)
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_key_reused"
    plain = await gw.client.post("/v1/projects", json={"name": "teaser"}, headers=auth(api_key))
    assert plain.json()["id"] != first.json()["id"]
    listing = (await gw.client.get("/v1/projects", headers=auth(api_key))).json()["data"]
    assert sorted(p["id"] for p in listing) == sorted([first.json()["id"], plain.json()["id"]])
    # the same key in another account is another key
    other_account = gw.new_key()
    theirs = await gw.client.post(
        "/v1/projects",
        json={"name": "teaser"},
        headers=auth(other_account) | {"Idempotency-Key": "project-once"},
    )
    assert theirs.status_code == 200 and theirs.json()["id"] != first.json()["id"]


def test_request_hash_is_order_independent_and_content_sensitive() -> None:
    a = idempotency.request_hash({"prompt": "p", "seed": 1})
    assert a == idempotency.request_hash({"seed": 1, "prompt": "p"})
    assert a != idempotency.request_hash({"prompt": "p", "seed": 2})
    assert len(a) == 64 and int(a, 16) >= 0


def test_a_read_never_forgets_a_key_and_a_write_forgets_only_the_expired_row(db) -> None:  # type: ignore[no-untyped-def]
    """Reads (autocommit on PostgreSQL; on SQLite a read cannot write after another writer commits)
    see an expired key as gone and leave it; the write that stores the key again forgets it, and only
    an expired row: a key stored afresh since is never deleted (its retry is a replay)."""
    req = _request(db)
    with db.write() as conn:
        idempotency.remember(conn, req, 200, {"id": "video_old"}, now=T0)
    later = T0 + 25 * HOUR
    with db.read() as conn:
        assert idempotency.find(conn, req, now=later, forget=False) is None
    with db.read() as conn:
        assert len(conn.execute(select(idempotency_keys)).all()) == 1  # left for the write
    with db.write() as conn:
        assert idempotency.find(conn, req, now=later) is None
        idempotency.remember(conn, req, 200, {"id": "video_new"}, now=later)
    with db.write() as conn:  # an old clock's view: the fresh row is not the one it read as expired
        assert idempotency.find(conn, req, now=later + 23 * HOUR) is not None
        conn.execute(idempotency_keys.update().values(created_at=later))
    with db.read() as conn:
        replay = idempotency.find(conn, req, now=later + 1, forget=False)
    assert replay is not None and replay.body == {"id": "video_new"}


def test_two_requests_racing_with_one_key_both_answer_the_first_to_commit(db) -> None:  # type: ignore[no-untyped-def]
    """On PostgreSQL both can find no key and both create; the later commit's insert of the key then
    fails on its unique constraint. It must answer as a replay of the first, not fail (it was a 500
    for ``POST /v1/projects``). On SQLite the second waits for the first's write lock instead."""
    import threading

    req = _request(db, key="race")
    answers: dict[str, tuple[dict[str, object], bool]] = {}
    second_done = threading.Event()

    def second() -> None:
        answers["second"] = idempotency.run(db, req, lambda conn: {"id": "project_second"})
        second_done.set()

    def first(conn):  # type: ignore[no-untyped-def]
        racer = threading.Thread(target=second)
        racer.start()
        # PostgreSQL: the second commits its key while this transaction is still open.
        # SQLite: the second cannot begin until this one commits, so stop waiting soon.
        second_done.wait(timeout=0.5 if db.is_sqlite else 30)
        answers["racer"] = racer  # type: ignore[assignment]
        return {"id": "project_first"}

    answers["first"] = idempotency.run(db, req, first)
    answers["racer"].join(timeout=30)  # type: ignore[attr-defined]
    bodies = {answers["first"][0]["id"], answers["second"][0]["id"]}
    assert len(bodies) == 1, answers
    assert sorted([answers["first"][1], answers["second"][1]]) == [False, True]
    assert _stored_keys(db) == 1
