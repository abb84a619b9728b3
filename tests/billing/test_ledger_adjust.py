"""Moving a pending reserve to a new amount and model (a job falling back to another candidate), and
the detail a purchase records.

A raise is held only if the account has the difference available and the key's and project's
budgets allow it; a cut releases the difference at once; only that job's reserve and that account
move. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
from sqlalchemy import select

import billing
from billing.schema import transfers


def _at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> float:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC).timestamp()


def _account(db, credits_mc: int) -> str:  # type: ignore[no-untyped-def]
    with db.write() as conn:
        account_id = billing.create_account(conn, f"a{time.monotonic_ns()}")
        billing.grant(conn, account_id, credits_mc)
    return account_id


def _balance(db, account_id: str) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """(posted balance, held) in millicredits."""
    with db.read() as conn:
        b = billing.get_balance(conn, account_id)
    return b.balance_mc, b.held_mc


def _reserve_of(db, job: str) -> tuple[int, str | None, str]:  # type: ignore[no-untyped-def]
    """The job's reserve transfer: (amount, model, state)."""
    with db.read() as conn:
        row = conn.execute(select(transfers).where(transfers.c.key == f"job:{job}:reserve")).one()
    return row.amount_mc, row.model, row.state


def _reserve(db, acct: str, job: str, amount_mc: int, **kw: Any) -> None:  # type: ignore[no-untyped-def]
    with db.write() as conn:
        billing.reserve(conn, acct, job, amount_mc, **kw)


def _adjust(db, job: str, amount_mc: int, **kw: Any) -> None:  # type: ignore[no-untyped-def]
    with db.write() as conn:
        billing.adjust_reserve(conn, job, amount_mc, **kw)


@pytest.mark.parametrize("spare", [0, 1], ids=["exactly-available", "more-than-enough"])
def test_a_raise_within_what_is_available_moves_only_that_reserve(db, spare: int) -> None:  # type: ignore[no-untyped-def]
    acct, other = _account(db, 10_000), _account(db, 10_000)
    _reserve(db, acct, "a1", 2000, model="m-small")
    _reserve(db, acct, "a2", 3000 - spare, model="m-other")
    _reserve(db, other, "b1", 1000, model="m-small")
    available = 10_000 - 2000 - (3000 - spare)
    assert available == 5000 + spare
    _adjust(db, "a1", 7000, model="m-big")  # a raise of 5000
    assert _balance(db, acct) == (10_000, 10_000 - spare)
    assert _reserve_of(db, "a1") == (7000, "m-big", "pending")
    # The account's other job and the other account are untouched.
    assert _reserve_of(db, "a2") == (3000 - spare, "m-other", "pending")
    assert _reserve_of(db, "b1") == (1000, "m-small", "pending")
    assert _balance(db, other) == (10_000, 1000)
    # Capturing charges the new amount and releases exactly that hold.
    with db.write() as conn:
        assert billing.capture(conn, "a1") == 7000
    assert _balance(db, acct) == (3000, 3000 - spare)
    with db.read() as conn:
        assert billing.verify_ledger(conn) == []


def test_a_raise_one_millicredit_past_what_is_available_is_refused(db) -> None:  # type: ignore[no-untyped-def]
    acct = _account(db, 10_000)
    _reserve(db, acct, "a1", 2000, model="m-small")
    _reserve(db, acct, "a2", 3000)
    # Available is 5000; the raise is 5001.
    with pytest.raises(billing.InsufficientCredits) as err, db.write() as conn:
        billing.adjust_reserve(conn, "a1", 7001, model="m-big")
    assert err.value.code == "insufficient_credits"
    assert _balance(db, acct) == (10_000, 5000)
    assert _reserve_of(db, "a1") == (2000, "m-small", "pending")


def test_a_raise_of_one_millicredit_is_held_and_checked(db) -> None:  # type: ignore[no-untyped-def]
    acct = _account(db, 5000)
    _reserve(db, acct, "j", 4999, model="m1")
    _adjust(db, "j", 5000)  # exactly the last millicredit available
    assert _balance(db, acct) == (5000, 5000)
    assert _reserve_of(db, "j") == (5000, "m1", "pending")
    with pytest.raises(billing.InsufficientCredits), db.write() as conn:
        billing.adjust_reserve(conn, "j", 5001)  # nothing left for one more
    assert _balance(db, acct) == (5000, 5000)
    with db.write() as conn:
        assert billing.capture(conn, "j") == 5000
    assert _balance(db, acct) == (0, 0)


def test_a_cut_or_same_amount_needs_no_headroom_and_releases_the_difference(db) -> None:  # type: ignore[no-untyped-def]
    acct = _account(db, 5000)
    _reserve(db, acct, "j", 5000, model="m1")  # nothing left available
    _adjust(db, "j", 5000, model="m2")  # same price, another model
    assert _balance(db, acct) == (5000, 5000)
    assert _reserve_of(db, "j") == (5000, "m2", "pending")
    _adjust(db, "j", 3000)  # no model given: the reserve keeps its model
    assert _balance(db, acct) == (5000, 3000)
    assert _reserve_of(db, "j") == (3000, "m2", "pending")
    with db.write() as conn:
        assert billing.capture(conn, "j") == 3000
    assert _balance(db, acct) == (2000, 0)
    with db.read() as conn:
        assert billing.verify_ledger(conn) == []


def test_a_same_price_fallback_is_not_refused_by_a_budget_already_spent(db) -> None:  # type: ignore[no-untyped-def]
    acct = _account(db, 10_000)
    at = _at(2025, 3, 10, 9)
    _reserve(db, acct, "j", 2000, api_key_id="k1", model="m1", now=at)
    # The key's daily budget was lowered below what the job holds: a switch at the same price (or
    # cheaper) still goes through, since it commits nothing more.
    tight = billing.BudgetLimits(key_daily_mc=1000)
    _adjust(db, "j", 2000, model="m2", limits=tight, now=at + 60)
    assert _reserve_of(db, "j") == (2000, "m2", "pending")
    _adjust(db, "j", 1500, limits=tight, now=at + 120)
    assert _balance(db, acct) == (10_000, 1500)


@pytest.mark.parametrize("settle", ["capture", "void", "never-reserved"])
def test_adjusting_a_job_without_a_pending_reserve_is_refused(db, settle: str) -> None:  # type: ignore[no-untyped-def]
    acct = _account(db, 10_000)
    job = "j" if settle != "never-reserved" else "ghost"
    _reserve(db, acct, "j", 2000, model="m1")
    with db.write() as conn:
        if settle == "capture":
            billing.capture(conn, "j", 1500)
        elif settle == "void":
            billing.void(conn, "j")
    before = _balance(db, acct), _reserve_of(db, "j")
    for amount in (4000, 500):  # neither a raise nor a cut
        with pytest.raises(ValueError, match="no pending reserve"), db.write() as conn:
            billing.adjust_reserve(conn, job, amount, model="m2")
    assert (_balance(db, acct), _reserve_of(db, "j")) == before


def test_a_raise_counts_what_the_project_has_committed(db) -> None:  # type: ignore[no-untyped-def]
    acct = _account(db, 100_000)
    limits = billing.BudgetLimits(project_mc=5000)
    at = _at(2025, 3, 10, 9)
    # p1 has 2000 charged (from another key) and 1000 held by the job; p2's spend does not count.
    _reserve(db, acct, "done", 2000, api_key_id="k2", project_id="p1", limits=limits, now=at)
    with db.write() as conn:
        billing.capture(conn, "done")
    _reserve(db, acct, "elsewhere", 4000, api_key_id="k1", project_id="p2", limits=limits, now=at)
    _reserve(db, acct, "j", 1000, api_key_id="k1", project_id="p1", limits=limits, now=at)
    with pytest.raises(billing.BudgetExceeded) as err, db.write() as conn:
        billing.adjust_reserve(conn, "j", 3001, limits=limits, now=at + 60)
    assert err.value.code == "budget_exceeded"
    assert "project's budget" in err.value.message
    assert _reserve_of(db, "j")[0] == 1000
    _adjust(db, "j", 3000, limits=limits, now=at + 60)  # up to the budget exactly
    assert _reserve_of(db, "j")[0] == 3000
    assert _balance(db, acct) == (98_000, 7000)


def test_a_raise_checks_the_key_budget_at_the_given_moment(db) -> None:  # type: ignore[no-untyped-def]
    acct = _account(db, 100_000)
    monthly = billing.BudgetLimits(key_monthly_mc=4000)
    _reserve(db, acct, "march", 2000, api_key_id="k1", limits=monthly, now=_at(2025, 3, 2))
    _reserve(db, acct, "j", 2000, api_key_id="k1", limits=monthly, now=_at(2025, 3, 31, 23, 59))
    # Still March: 4000 of 4000 committed, a raise of 1 is refused.
    with pytest.raises(billing.BudgetExceeded) as err, db.write() as conn:
        billing.adjust_reserve(conn, "j", 2001, limits=monthly, now=_at(2025, 3, 31, 23, 59, 59))
    assert "monthly budget" in err.value.message
    # April, UTC: March's reserves no longer count against the month.
    _adjust(db, "j", 6000, limits=monthly, now=_at(2025, 4, 1))
    assert _reserve_of(db, "j")[0] == 6000


def test_a_raise_without_a_moment_checks_the_key_budget_now(db) -> None:  # type: ignore[no-untyped-def]
    acct = _account(db, 100_000)
    daily = billing.BudgetLimits(key_daily_mc=3000)
    _reserve(db, acct, "j", 2000, api_key_id="k1", limits=daily)  # placed on the real clock
    _adjust(db, "j", 3000, limits=daily)  # today: 3000 of 3000
    assert _balance(db, acct) == (100_000, 3000)
    with pytest.raises(billing.BudgetExceeded) as err, db.write() as conn:
        billing.adjust_reserve(conn, "j", 3001, limits=daily)
    assert "daily budget" in err.value.message
    assert _reserve_of(db, "j")[0] == 3000


def test_a_purchase_records_its_detail_once(db) -> None:  # type: ignore[no-untyped-def]
    acct = _account(db, 1000)
    detail = {"session": "cs_test_1", "pack": "starter", "price_cents": 500}
    with db.write() as conn:
        transfer_id = billing.purchase(conn, acct, 5000, key="stripe:session:cs_test_1", detail=detail)
    assert transfer_id is not None
    with db.write() as conn:  # the same key again: nothing changes
        assert billing.purchase(conn, acct, 5000, key="stripe:session:cs_test_1", detail={}) is None
    with db.read() as conn:
        row = conn.execute(select(transfers).where(transfers.c.id == transfer_id)).one()
        funding = billing.get_balance(conn, billing.SYSTEM_ACCOUNTS["stripe_funding"]).balance_mc
        assert billing.verify_ledger(conn) == []
    assert (row.kind, row.credit_account_id, row.amount_mc) == ("purchase", acct, 5000)
    assert row.detail == detail
    assert _balance(db, acct) == (6000, 0)
    assert funding == -5000
