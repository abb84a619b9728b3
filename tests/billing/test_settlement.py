"""Settling a finished job: billing charges the quote, never more than the hold, releases the rest, and
meters the usage at what it charged, under the job's key and project. On SQLite and PostgreSQL."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

import billing
from billing.schema import usage_records


def _account(db, credits_mc: int = 10_000) -> str:  # type: ignore[no-untyped-def]
    with db.write() as conn:
        account_id = billing.create_account(conn, f"s{time.monotonic_ns()}")
        billing.grant(conn, account_id, credits_mc)
    return account_id


def _usage(account_id: str) -> billing.UsageRecord:
    return billing.UsageRecord(
        account_id=account_id,
        api_key_id="key_1",
        project_id="proj_1",
        model="m",
        backend="b",
        video_seconds=2.0,
        frames=32,
        width=64,
        height=64,
        device_seconds=1.5,
    )


def _metered(db, job: str):  # type: ignore[no-untyped-def]
    with db.read() as conn:
        return conn.execute(select(usage_records).where(usage_records.c.job_id == job)).one()


@pytest.mark.parametrize("quoted, charged", [(2500, 2500), (3000, 3000), (9999, 3000), (0, 0)])
def test_the_quote_is_charged_never_more_than_the_hold(db, quoted: int, charged: int) -> None:  # type: ignore[no-untyped-def]
    acct = _account(db)
    with db.write() as conn:
        billing.reserve(conn, acct, "job", 3000, api_key_id="key_1", project_id="proj_1", model="m")
        assert billing.settle(conn, "job", quoted_mc=quoted, usage=_usage(acct)).charged_mc == charged
    with db.read() as conn:
        balance = billing.get_balance(conn, acct)
        assert (balance.balance_mc, balance.held_mc) == (10_000 - charged, 0)  # the rest is released
        assert billing.verify_ledger(conn) == []
    row = _metered(db, "job")
    assert (row.cost_mc, row.api_key_id, row.project_id, row.model, row.frames) == (
        charged,
        "key_1",
        "proj_1",
        "m",
        32,
    )


@pytest.mark.parametrize("before", ["void", "capture", "none"])
def test_a_hold_already_settled_or_missing_charges_nothing_more(db, before: str) -> None:  # type: ignore[no-untyped-def]
    acct = _account(db)
    with db.write() as conn:
        if before != "none":
            billing.reserve(conn, acct, "job", 3000, model="m")
            getattr(billing, before)(conn, "job")
    with db.read() as conn:
        after_first = billing.get_balance(conn, acct).balance_mc
    with db.write() as conn:
        assert billing.settle(conn, "job", quoted_mc=3000, usage=_usage(acct)).charged_mc == 0
    with db.read() as conn:
        assert billing.get_balance(conn, acct).balance_mc == after_first
    assert _metered(db, "job").cost_mc == 0
