"""Accounts, grants and job holds: reserve on submit, capture on success, release on failure.

Every function takes an open SQLAlchemy ``Connection`` inside the caller's transaction, so a
hold is placed in the same transaction that inserts its job. Holds are guarded by a
conditional update (``balance - held >= amount``) and a CHECK constraint, so concurrent
submits can never overdraw; capture and release are idempotent per job.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from sqlalchemy import Connection, insert, select, update

from .errors import AccountNotFound, InsufficientCredits
from .pricing import credits
from .schema import accounts, credit_entries, credit_holds

__all__ = [
    "Balance",
    "capture",
    "create_account",
    "ensure_account",
    "find_account",
    "get_balance",
    "grant",
    "hold",
    "release",
]


@dataclass(frozen=True)
class Balance:
    """An account's credits in millicredits."""

    balance_mc: int
    held_mc: int

    @property
    def available_mc(self) -> int:
        return self.balance_mc - self.held_mc


def create_account(conn: Connection, name: str) -> str:
    account_id = "acct_" + secrets.token_hex(12)
    conn.execute(
        insert(accounts).values(id=account_id, name=name, balance_mc=0, held_mc=0, created_at=time.time())
    )
    return account_id


def find_account(conn: Connection, name: str) -> str | None:
    return conn.execute(select(accounts.c.id).where(accounts.c.name == name)).scalar_one_or_none()


def ensure_account(conn: Connection, name: str) -> str:
    """The id of the account called ``name``, created if it does not exist."""
    return find_account(conn, name) or create_account(conn, name)


def get_balance(conn: Connection, account_id: str) -> Balance:
    row = conn.execute(
        select(accounts.c.balance_mc, accounts.c.held_mc).where(accounts.c.id == account_id)
    ).one_or_none()
    if row is None:
        raise AccountNotFound(f"account {account_id} not found")
    return Balance(row.balance_mc, row.held_mc)


def grant(conn: Connection, account_id: str, amount_mc: int, ref: str | None = None) -> None:
    """Add credits to an account (an admin grant; purchases come later through Stripe)."""
    if amount_mc <= 0:
        raise ValueError("a grant must be positive")
    result = conn.execute(
        update(accounts)
        .where(accounts.c.id == account_id)
        .values(balance_mc=accounts.c.balance_mc + amount_mc)
    )
    if result.rowcount != 1:
        raise AccountNotFound(f"account {account_id} not found")
    conn.execute(
        insert(credit_entries).values(
            account_id=account_id,
            kind="grant",
            amount_mc=amount_mc,
            ref=ref or "grant:" + secrets.token_hex(8),
            created_at=time.time(),
        )
    )


def hold(conn: Connection, account_id: str, job_id: str, amount_mc: int) -> None:
    """Reserve ``amount_mc`` for ``job_id``; raises :class:`InsufficientCredits` if not available."""
    result = conn.execute(
        update(accounts)
        .where(accounts.c.id == account_id, accounts.c.balance_mc - accounts.c.held_mc >= amount_mc)
        .values(held_mc=accounts.c.held_mc + amount_mc)
    )
    if result.rowcount != 1:
        bal = get_balance(conn, account_id)
        raise InsufficientCredits(
            f"this job costs {credits(amount_mc):g} credits but only {credits(bal.available_mc):g} "
            f"are available ({credits(bal.held_mc):g} held by running jobs)"
        )
    conn.execute(
        insert(credit_holds).values(
            job_id=job_id, account_id=account_id, amount_mc=amount_mc, state="held", created_at=time.time()
        )
    )


def capture(conn: Connection, job_id: str, amount_mc: int | None = None) -> int | None:
    """Charge the job's hold (``amount_mc`` <= held; default all of it) and release the rest.

    Returns the amount charged, or ``None`` if the hold was already settled (idempotent).
    """
    row = conn.execute(select(credit_holds).where(credit_holds.c.job_id == job_id)).one_or_none()
    if row is None:
        return None
    charge = row.amount_mc if amount_mc is None else amount_mc
    if not 0 <= charge <= row.amount_mc:
        raise ValueError(f"capture of {charge} exceeds the hold of {row.amount_mc}")
    settled = conn.execute(
        update(credit_holds)
        .where(credit_holds.c.job_id == job_id, credit_holds.c.state == "held")
        .values(state="captured", captured_mc=charge, settled_at=time.time())
    )
    if settled.rowcount != 1:
        return None
    conn.execute(
        update(accounts)
        .where(accounts.c.id == row.account_id)
        .values(balance_mc=accounts.c.balance_mc - charge, held_mc=accounts.c.held_mc - row.amount_mc)
    )
    conn.execute(
        insert(credit_entries).values(
            account_id=row.account_id,
            kind="capture",
            amount_mc=-charge,
            ref=f"job:{job_id}:capture",
            created_at=time.time(),
        )
    )
    return charge


def release(conn: Connection, job_id: str) -> bool:
    """Release the job's whole hold. Returns False if it was already settled (idempotent)."""
    row = conn.execute(select(credit_holds).where(credit_holds.c.job_id == job_id)).one_or_none()
    if row is None:
        return False
    settled = conn.execute(
        update(credit_holds)
        .where(credit_holds.c.job_id == job_id, credit_holds.c.state == "held")
        .values(state="released", settled_at=time.time())
    )
    if settled.rowcount != 1:
        return False
    conn.execute(
        update(accounts)
        .where(accounts.c.id == row.account_id)
        .values(held_mc=accounts.c.held_mc - row.amount_mc)
    )
    return True
