"""Reading the books: pending holds, an account's summary, its statement (posted entries)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Connection, select

from billing.budgets import _day_start, _month_start, spent_mc
from billing.errors import AccountNotFound
from billing.ledger import Balance, get_balance
from billing.schema import accounts, entries, transfers

__all__ = [
    "AccountSummary",
    "PendingReserve",
    "StatementEntry",
    "StatementPage",
    "account_summary",
    "pending_reserves",
    "statement",
]


@dataclass(frozen=True)
class PendingReserve:
    """A hold not yet captured or voided: its job, model and amount in millicredits."""

    job_id: str
    model: str | None
    amount_mc: int


def pending_reserves(conn: Connection) -> list[PendingReserve]:
    """Every pending job reserve (the caller decides which ones outlived their job and voids them)."""
    rows = conn.execute(
        select(transfers.c.job_id, transfers.c.model, transfers.c.amount_mc).where(
            transfers.c.kind == "reserve", transfers.c.state == "pending"
        )
    ).all()
    return [PendingReserve(r.job_id, r.model, int(r.amount_mc)) for r in rows if r.job_id is not None]


@dataclass(frozen=True)
class AccountSummary:
    """An account's name and credits, and what one API key committed today and this month (UTC)."""

    id: str
    name: str
    balance: Balance
    key_daily_spent_mc: int
    key_monthly_spent_mc: int


def account_summary(
    conn: Connection, account_id: str, *, api_key_id: str | None = None, now: float | None = None
) -> AccountSummary:
    """The account's name and balance, and ``api_key_id``'s committed credits in the calendar day and
    month (UTC) of ``now`` (default: the current time). Raises ``AccountNotFound``."""
    now = time.time() if now is None else now
    name = conn.execute(select(accounts.c.name).where(accounts.c.id == account_id)).scalar_one_or_none()
    if name is None:
        raise AccountNotFound(f"account {account_id} not found")
    balance = get_balance(conn, account_id)
    daily = spent_mc(conn, api_key_id=api_key_id, since=_day_start(now)) if api_key_id else 0
    monthly = spent_mc(conn, api_key_id=api_key_id, since=_month_start(now)) if api_key_id else 0
    return AccountSummary(account_id, name, balance, daily, monthly)


@dataclass(frozen=True)
class StatementEntry:
    """One posted ledger entry of an account, with its transfer's kind, job and model."""

    id: int
    kind: str
    amount_mc: int
    transfer_id: str
    job_id: str | None
    model: str | None
    created_at: float
    reason: str | None = None  # why, for a refund


@dataclass(frozen=True)
class StatementPage:
    entries: list[StatementEntry]
    has_more: bool


def statement(
    conn: Connection,
    account_id: str,
    *,
    after: int | None = None,
    limit: int = 50,
    order: str = "desc",
) -> StatementPage:
    """Up to ``limit`` posted entries of the account by id (``order`` ``desc`` or ``asc``), starting
    past entry ``after``; ``has_more`` tells whether more follow."""
    query = (
        select(
            entries.c.id,
            entries.c.amount_mc,
            entries.c.created_at,
            transfers.c.kind,
            transfers.c.id.label("transfer_id"),
            transfers.c.job_id,
            transfers.c.model,
            transfers.c.detail,
        )
        .join(transfers, transfers.c.id == entries.c.transfer_id)
        .where(entries.c.account_id == account_id)
    )
    if after is not None:
        query = query.where(entries.c.id < after if order == "desc" else entries.c.id > after)
    query = query.order_by(entries.c.id.desc() if order == "desc" else entries.c.id).limit(limit + 1)
    rows = conn.execute(query).all()
    return StatementPage(
        [
            StatementEntry(
                r.id,
                r.kind,
                r.amount_mc,
                r.transfer_id,
                r.job_id,
                r.model,
                r.created_at,
                (r.detail or {}).get("reason") if r.kind == "refund" else None,
            )
            for r in rows[:limit]
        ],
        len(rows) > limit,
    )
