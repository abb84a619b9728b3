"""Holds, captures and releases: exact, idempotent, and never below zero, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

import billing
from billing.schema import accounts


def _account(db, credits_mc: int) -> str:  # type: ignore[no-untyped-def]
    with db.write() as conn:
        account_id = billing.create_account(conn, "a")
        if credits_mc:
            billing.grant(conn, account_id, credits_mc)
    return account_id


def _balance(db, account_id: str) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    with db.read() as conn:
        b = billing.get_balance(conn, account_id)
    return b.balance_mc, b.held_mc


def test_hold_capture_release(db) -> None:  # type: ignore[no-untyped-def]
    acct = _account(db, 5000)
    with db.write() as conn:
        billing.hold(conn, acct, "job1", 2000)
        billing.hold(conn, acct, "job2", 1500)
    assert _balance(db, acct) == (5000, 3500)
    with db.write() as conn:
        assert billing.capture(conn, "job1", 1200) == 1200  # actual below the quote: the rest is released
        assert billing.release(conn, "job2") is True
    assert _balance(db, acct) == (3800, 0)


def test_settling_twice_is_a_no_op(db) -> None:  # type: ignore[no-untyped-def]
    acct = _account(db, 5000)
    with db.write() as conn:
        billing.hold(conn, acct, "j", 1000)
    with db.write() as conn:
        assert billing.capture(conn, "j") == 1000
    with db.write() as conn:
        assert billing.capture(conn, "j") is None
        assert billing.release(conn, "j") is False
    assert _balance(db, acct) == (4000, 0)


def test_insufficient_credits(db) -> None:  # type: ignore[no-untyped-def]
    acct = _account(db, 1000)
    with db.write() as conn:
        billing.hold(conn, acct, "a", 600)
    with pytest.raises(billing.InsufficientCredits) as err, db.write() as conn:
        billing.hold(conn, acct, "b", 600)
    assert "0.4" in err.value.message
    assert _balance(db, acct) == (1000, 600)


def test_capture_cannot_exceed_hold(db) -> None:  # type: ignore[no-untyped-def]
    acct = _account(db, 1000)
    with db.write() as conn:
        billing.hold(conn, acct, "a", 500)
    with pytest.raises(ValueError), db.write() as conn:
        billing.capture(conn, "a", 501)
    assert _balance(db, acct) == (1000, 500)


def test_check_constraint_backs_the_conditional_update(db) -> None:  # type: ignore[no-untyped-def]
    acct = _account(db, 1000)
    with pytest.raises(IntegrityError), db.write() as conn:
        conn.execute(update(accounts).where(accounts.c.id == acct).values(held_mc=2000))
    assert _balance(db, acct) == (1000, 0)


def test_concurrent_holds_from_threads_never_overdraw(db) -> None:  # type: ignore[no-untyped-def]
    acct = _account(db, 10_000)
    accepted: list[str] = []
    refused: list[str] = []
    lock = threading.Lock()

    def attempt(i: int) -> None:
        try:
            with db.write() as conn:
                billing.hold(conn, acct, f"job{i}", 1000)
            with lock:
                accepted.append(f"job{i}")
        except billing.InsufficientCredits:
            with lock:
                refused.append(f"job{i}")

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (len(accepted), len(refused)) == (10, 20)
    assert _balance(db, acct) == (10_000, 10_000)


def test_quotes_are_exact_millicredits() -> None:
    assert billing.quote_mc(1.0, 17 / 16) == 1063
    assert billing.quote_mc(0.1, 3.0) == 300
    assert billing.quote_mc(0.0, 5.0) == 0
    assert billing.credits(1063) == 1.063
