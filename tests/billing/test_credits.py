"""The ledger: reserve -> capture/void, grants, idempotency keys, zero-sum entries, never below zero.

On SQLite and PostgreSQL.
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

import billing
from billing.schema import accounts, entries, transfers


def _account(db, credits_mc: int) -> str:  # type: ignore[no-untyped-def]
    with db.write() as conn:
        account_id = billing.create_account(conn, f"a{time.monotonic_ns()}")
        if credits_mc:
            billing.grant(conn, account_id, credits_mc)
    return account_id


def _balance(db, account_id: str) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    with db.read() as conn:
        b = billing.get_balance(conn, account_id)
    return b.balance_mc, b.held_mc


def _verify(db) -> list[str]:  # type: ignore[no-untyped-def]
    with db.read() as conn:
        return billing.verify_ledger(conn)


def test_reserve_capture_void(db) -> None:  # type: ignore[no-untyped-def]
    acct = _account(db, 5000)
    with db.write() as conn:
        billing.reserve(conn, acct, "job1", 2000)
        billing.reserve(conn, acct, "job2", 1500)
    assert _balance(db, acct) == (5000, 3500)
    with db.write() as conn:
        assert billing.capture(conn, "job1", 1200) == 1200  # actual below the quote: the rest is released
        assert billing.void(conn, "job2") is True
    assert _balance(db, acct) == (3800, 0)
    assert _verify(db) == []
    with db.read() as conn:
        revenue = billing.get_balance(conn, billing.SYSTEM_ACCOUNTS["revenue"]).balance_mc
        grants = billing.get_balance(conn, billing.SYSTEM_ACCOUNTS["grants"]).balance_mc
    assert revenue == 1200 and grants == -5000


def test_every_transfer_sums_to_zero(db) -> None:  # type: ignore[no-untyped-def]
    acct = _account(db, 5000)
    with db.write() as conn:
        billing.reserve(conn, acct, "j", 1000)
        billing.capture(conn, "j", 700)
        rows = conn.execute(select(entries.c.transfer_id, entries.c.amount_mc)).all()
    sums: dict[str, int] = {}
    for transfer_id, amount in rows:
        sums[transfer_id] = sums.get(transfer_id, 0) + amount
    assert len(sums) == 2 and set(sums.values()) == {0}


def test_settling_twice_is_a_no_op(db) -> None:  # type: ignore[no-untyped-def]
    acct = _account(db, 5000)
    with db.write() as conn:
        first = billing.reserve(conn, acct, "j", 1000)
        assert billing.reserve(conn, acct, "j", 1000) == first  # same key: the same transfer
    with db.write() as conn:
        assert billing.capture(conn, "j") == 1000
    with db.write() as conn:
        assert billing.capture(conn, "j") is None
        assert billing.void(conn, "j") is False
    assert _balance(db, acct) == (4000, 0)
    assert _verify(db) == []


def test_grants_are_idempotent_per_key(db) -> None:  # type: ignore[no-untyped-def]
    acct = _account(db, 0)
    with db.write() as conn:
        billing.grant(conn, acct, 700, key="promo:1")
        billing.grant(conn, acct, 700, key="promo:1")
    assert _balance(db, acct) == (700, 0)


def test_insufficient_credits(db) -> None:  # type: ignore[no-untyped-def]
    acct = _account(db, 1000)
    with db.write() as conn:
        billing.reserve(conn, acct, "a", 600)
    with pytest.raises(billing.InsufficientCredits) as err, db.write() as conn:
        billing.reserve(conn, acct, "b", 600)
    assert "0.4" in err.value.message
    assert _balance(db, acct) == (1000, 600)


def test_capture_cannot_exceed_reserve(db) -> None:  # type: ignore[no-untyped-def]
    acct = _account(db, 1000)
    with db.write() as conn:
        billing.reserve(conn, acct, "a", 500)
    with pytest.raises(ValueError), db.write() as conn:
        billing.capture(conn, "a", 501)
    assert _balance(db, acct) == (1000, 500)


def test_check_constraint_backs_the_conditional_update(db) -> None:  # type: ignore[no-untyped-def]
    acct = _account(db, 1000)
    with pytest.raises(IntegrityError), db.write() as conn:
        conn.execute(update(accounts).where(accounts.c.id == acct).values(held_mc=2000))
    assert _balance(db, acct) == (1000, 0)


def test_verify_catches_tampering(db) -> None:  # type: ignore[no-untyped-def]
    acct = _account(db, 1000)
    with db.write() as conn:
        billing.reserve(conn, acct, "j", 400)
        billing.capture(conn, "j", 400)
        conn.execute(update(accounts).where(accounts.c.id == acct).values(balance_mc=900))
        conn.execute(update(transfers).where(transfers.c.kind == "capture").values(amount_mc=300))
    problems = _verify(db)
    assert any("entries sum" in p for p in problems)
    assert any("does not match reserve" in p for p in problems)


def test_budgets(db) -> None:  # type: ignore[no-untyped-def]
    acct = _account(db, 100_000)
    limits = billing.BudgetLimits(key_daily_mc=3000, project_mc=5000)
    with db.write() as conn:
        billing.reserve(conn, acct, "a", 2000, api_key_id="k1", project_id="p1", limits=limits)
    with pytest.raises(billing.BudgetExceeded) as err, db.write() as conn:
        billing.reserve(conn, acct, "b", 1500, api_key_id="k1", project_id="p1", limits=limits)
    assert "daily budget" in err.value.message
    with db.write() as conn:  # a void gives the budget back; a capture counts what was charged
        billing.void(conn, "a")
        billing.reserve(conn, acct, "c", 2500, api_key_id="k1", project_id="p1", limits=limits)
        billing.capture(conn, "c", 1000)
        billing.reserve(conn, acct, "d", 2000, api_key_id="k1", project_id="p1", limits=limits)
    with pytest.raises(billing.BudgetExceeded) as err, db.write() as conn:
        billing.reserve(conn, acct, "e", 2500, api_key_id="k2", project_id="p1", limits=limits)
    assert "project" in err.value.message


def test_concurrent_reserves_from_threads_never_overdraw(db) -> None:  # type: ignore[no-untyped-def]
    acct = _account(db, 10_000)
    accepted: list[str] = []
    refused: list[str] = []
    lock = threading.Lock()

    def attempt(i: int) -> None:
        try:
            with db.write() as conn:
                billing.reserve(
                    conn,
                    acct,
                    f"job{i}",
                    1000,
                    api_key_id="k",
                    limits=billing.BudgetLimits(key_daily_mc=8000),
                )
            with lock:
                accepted.append(f"job{i}")
        except (billing.InsufficientCredits, billing.BudgetExceeded):
            with lock:
                refused.append(f"job{i}")

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # The budget (8) binds before the balance (10), even with every reserve racing.
    assert (len(accepted), len(refused)) == (8, 22)
    assert _balance(db, acct) == (10_000, 8000)
    assert _verify(db) == []


def test_quotes_are_exact_millicredits() -> None:
    assert billing.quote_mc(1.0, 17 / 16) == 1063
    assert billing.quote_mc(0.1, 3.0) == 300
    assert billing.quote_mc(0.0, 5.0) == 0
    assert billing.credits(1063) == 1.063
    rule = billing.PriceRule(2.0, base_pixels=64 * 64, base_steps=10)
    assert rule.quote_mc(seconds=1, width=128, height=64, steps=20) == 8000
    assert billing.PriceRule(2.0).quote_mc(seconds=1.5, width=999, height=999, steps=99) == 3000
