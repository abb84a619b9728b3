"""The double-entry ledger: accounts, grants, purchases, and the account lock (a job's two-phase
transfers are in :mod:`billing.job_transfers`).

Every function takes an open ``Connection`` inside the caller's transaction, so a reserve is placed
in the same transaction that inserts its job. Each transfer carries a unique idempotency key
(``job:<id>:reserve``, ``job:<id>:capture``, ``stripe:session:<id>``...): posting the same key twice
returns the first transfer and changes nothing.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, bindparam, insert, select, update

from .errors import AccountNotFound
from .schema import SYSTEM_ACCOUNTS, accounts, entries, transfers

__all__ = [
    "Balance",
    "create_account",
    "ensure_account",
    "find_account",
    "get_balance",
    "grant",
    "lock_account",
    "purchase",
]


@dataclass(frozen=True)
class Balance:
    """An account's credits in millicredits: posted balance, held by pending reserves, available."""

    balance_mc: int
    held_mc: int

    @property
    def available_mc(self) -> int:
        return self.balance_mc - self.held_mc


def _id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(10)}"


def create_account(conn: Connection, name: str) -> str:
    account_id = _id("acct")
    conn.execute(
        insert(accounts).values(
            id=account_id, name=name, kind="customer", balance_mc=0, held_mc=0, created_at=time.time()
        )
    )
    return account_id


def find_account(conn: Connection, name: str) -> str | None:
    return conn.execute(
        select(accounts.c.id).where(accounts.c.name == name, accounts.c.kind == "customer")
    ).scalar_one_or_none()


def ensure_account(conn: Connection, name: str) -> str:
    """The id of the customer account called ``name``, created if it does not exist."""
    return find_account(conn, name) or create_account(conn, name)


def get_balance(conn: Connection, account_id: str) -> Balance:
    row = conn.execute(
        select(accounts.c.balance_mc, accounts.c.held_mc).where(accounts.c.id == account_id)
    ).one_or_none()
    if row is None:
        raise AccountNotFound(f"account {account_id} not found")
    return Balance(row.balance_mc, row.held_mc)


def _existing(conn: Connection, key: str) -> Row[Any] | None:
    return conn.execute(select(transfers).where(transfers.c.key == key)).one_or_none()


def _post(
    conn: Connection,
    *,
    key: str,
    kind: str,
    debit: str,
    credit: str,
    amount_mc: int,
    pending_id: str | None = None,
    **fields: Any,
) -> str:
    """Insert a posted transfer with its two entries and move the balances."""
    now = time.time()
    transfer_id = _id("tr")
    conn.execute(
        insert(transfers).values(
            id=transfer_id,
            key=key,
            kind=kind,
            debit_account_id=debit,
            credit_account_id=credit,
            amount_mc=amount_mc,
            state="posted",
            pending_id=pending_id,
            created_at=now,
            settled_at=now,
            **fields,
        )
    )
    if amount_mc:
        conn.execute(
            insert(entries),
            [
                {"transfer_id": transfer_id, "account_id": debit, "amount_mc": -amount_mc, "created_at": now},
                {"transfer_id": transfer_id, "account_id": credit, "amount_mc": amount_mc, "created_at": now},
            ],
        )
        conn.execute(
            update(accounts)
            .where(accounts.c.id == credit)
            .values(balance_mc=accounts.c.balance_mc + amount_mc)
        )
    return transfer_id


def _require_customer(conn: Connection, account_id: str) -> None:
    kind = conn.execute(select(accounts.c.kind).where(accounts.c.id == account_id)).scalar_one_or_none()
    if kind != "customer":
        raise AccountNotFound(f"customer account {account_id} not found")


def grant(conn: Connection, account_id: str, amount_mc: int, key: str | None = None) -> str:
    """Credits given by an operator (from the ``grants`` system account). Idempotent per ``key``."""
    if amount_mc <= 0:
        raise ValueError("a grant must be positive")
    key = key or f"grant:{secrets.token_hex(12)}"
    if (row := _existing(conn, key)) is not None:
        return str(row.id)
    _require_customer(conn, account_id)
    debit = SYSTEM_ACCOUNTS["grants"]
    conn.execute(
        update(accounts).where(accounts.c.id == debit).values(balance_mc=accounts.c.balance_mc - amount_mc)
    )
    return _post(conn, key=key, kind="grant", debit=debit, credit=account_id, amount_mc=amount_mc)


def purchase(
    conn: Connection, account_id: str, amount_mc: int, key: str, detail: dict[str, Any]
) -> str | None:
    """Credits bought (from ``stripe_funding``). Returns None if ``key`` was already posted."""
    if _existing(conn, key) is not None:
        return None
    _require_customer(conn, account_id)
    debit = SYSTEM_ACCOUNTS["stripe_funding"]
    conn.execute(
        update(accounts).where(accounts.c.id == debit).values(balance_mc=accounts.c.balance_mc - amount_mc)
    )
    return _post(
        conn, key=key, kind="purchase", debit=debit, credit=account_id, amount_mc=amount_mc, detail=detail
    )


_LOCKS: dict[tuple[int, ...], tuple[tuple[Any, ...], Any]] = {}


def _lock_statement(read: tuple[Any, ...]) -> Any:
    # Built once per set of reads (the callers pass module-level subqueries whose values are bind
    # parameters), so a create does not rebuild it and recompute its cache key each time.
    key = tuple(id(r) for r in read)
    cached = _LOCKS.get(key)
    if cached is None:
        statement = (
            select(accounts.c.id, *read)
            .where(accounts.c.id == bindparam("lock_account_id"), accounts.c.kind == "customer")
            .with_for_update(of=accounts)
        )
        if len(_LOCKS) >= 64:  # a caller building new subqueries each time: do not cache them all
            return statement
        cached = _LOCKS[key] = (read, statement)  # keeps ``read`` alive: its ids stay unique
    return cached[1]


def lock_account(
    conn: Connection, account_id: str, *read: Any, params: Mapping[str, Any] | None = None
) -> tuple[Any, ...]:
    """Take the account's row lock for the rest of the transaction (no-op on SQLite, whose write
    transactions are already exclusive). Take it *first*: a foreign key to the account taken
    earlier in the transaction holds a weaker lock, and two transactions upgrading it deadlock.

    ``read``: scalar subqueries evaluated in the same statement (one round trip for the lock and
    what the caller needs next, e.g. the budgets); their values are returned in order. Pass the
    same subquery objects each time, their values as bind parameters given in ``params``.
    """
    locked = conn.execute(
        _lock_statement(read), {"lock_account_id": account_id, **(params or {})}
    ).one_or_none()
    if locked is None:
        raise AccountNotFound(f"customer account {account_id} not found")
    return tuple(locked[1:])
