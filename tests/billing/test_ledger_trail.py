"""The ledger's audit trail: every settled hold leaves a posted transfer naming its job, key, project
and model, with when it was settled; settling one job's hold touches no other; grants and locks refuse
what is not theirs to do. On SQLite and PostgreSQL."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

import billing
from billing.schema import SYSTEM_ACCOUNTS, transfers


def _account(db, credits_mc: int = 10_000) -> str:  # type: ignore[no-untyped-def]
    with db.write() as conn:
        account_id = billing.create_account(conn, f"t{time.monotonic_ns()}")
        billing.grant(conn, account_id, credits_mc)
    return account_id


def _transfer(db, key: str):  # type: ignore[no-untyped-def]
    with db.read() as conn:
        return conn.execute(select(transfers).where(transfers.c.key == key)).one()


@pytest.mark.parametrize("settle", ["capture", "void"])
def test_a_settled_hold_leaves_a_trail_naming_its_job(db, settle: str) -> None:  # type: ignore[no-untyped-def]
    acct = _account(db)
    before = time.time()
    with db.write() as conn:
        billing.reserve(conn, acct, "job-1", 3000, api_key_id="key_1", project_id="proj_1", model="m-one")
        if settle == "capture":
            assert billing.capture(conn, "job-1", 2000) == 2000
        else:
            assert billing.void(conn, "job-1") is True
    held = _transfer(db, "job:job-1:reserve")
    assert held.state == ("captured" if settle == "capture" else "voided")
    assert held.settled_at is not None and before <= held.settled_at <= time.time()
    trail = _transfer(db, f"job:job-1:{settle}")
    assert trail.state == "posted" and trail.pending_id == held.id
    assert (trail.job_id, trail.api_key_id, trail.project_id, trail.model) == (
        "job-1",
        "key_1",
        "proj_1",
        "m-one",
    )
    assert trail.amount_mc == (2000 if settle == "capture" else 3000)
    assert trail.id.startswith("tr_") and trail.id != held.id
    if settle == "void":
        assert trail.settled_at is not None and before <= trail.settled_at <= time.time()
    # The account's statement names the job and model of the capture's entries.
    with db.read() as conn:
        page = billing.statement(conn, acct)
    if settle == "capture":
        charged = [e for e in page.entries if e.kind == "capture"]
        assert [(e.job_id, e.model, e.amount_mc) for e in charged] == [("job-1", "m-one", -2000)]
    with db.read() as conn:
        assert billing.verify_ledger(conn) == []


@pytest.mark.parametrize("settle", ["capture", "void"])
def test_settling_one_job_leaves_every_other_hold_pending(db, settle: str) -> None:  # type: ignore[no-untyped-def]
    acct, other = _account(db), _account(db)
    with db.write() as conn:
        billing.reserve(conn, acct, "mine", 1000, model="m")
        billing.reserve(conn, acct, "also-mine", 1500, model="m")
        billing.reserve(conn, other, "theirs", 2000, model="m")
        getattr(billing, settle)(conn, "mine")
    assert [_transfer(db, f"job:{j}:reserve").state for j in ("also-mine", "theirs")] == [
        "pending",
        "pending",
    ]
    with db.read() as conn:
        assert billing.get_balance(conn, acct).held_mc == 1500
        assert billing.get_balance(conn, other).held_mc == 2000
        assert billing.verify_ledger(conn) == []
    with db.write() as conn:  # and they still settle normally
        assert billing.void(conn, "also-mine") is True
        assert billing.capture(conn, "theirs") == 2000


def test_a_capture_over_the_hold_says_so(db) -> None:  # type: ignore[no-untyped-def]
    acct = _account(db)
    with db.write() as conn:
        billing.reserve(conn, acct, "j", 1000)
    with pytest.raises(ValueError, match="exceeds the reserve of 1000"), db.write() as conn:
        billing.capture(conn, "j", 1001)


def test_grants_are_positive_and_idempotent(db) -> None:  # type: ignore[no-untyped-def]
    acct = _account(db, 1000)
    with pytest.raises(ValueError, match="positive"), db.write() as conn:
        billing.grant(conn, acct, 0)
    with db.write() as conn:
        first = billing.grant(conn, acct, 500, key="grant:once")
        again = billing.grant(conn, acct, 500, key="grant:once")
        assert first == again and first.startswith("tr_")
        assert billing.get_balance(conn, acct).balance_mc == 1500


def test_only_customer_accounts_can_be_locked(db) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(billing.AccountNotFound), db.write() as conn:
        billing.lock_account(conn, SYSTEM_ACCOUNTS["grants"])
