"""The double-entry ledger: accounts, grants, purchases, and two-phase job transfers.

Every function takes an open ``Connection`` inside the caller's transaction, so a reserve is placed
in the same transaction that inserts its job. Each transfer carries a unique idempotency key
(``job:<id>:reserve``, ``job:<id>:capture``, ``stripe:session:<id>``...): posting the same key twice
returns the first transfer and changes nothing.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, insert, literal, select, update

from .budgets import BudgetLimits, check_budgets
from .errors import AccountNotFound, InsufficientCredits
from .pricing import credits
from .schema import SYSTEM_ACCOUNTS, accounts, entries, transfers

__all__ = [
    "Balance",
    "adjust_reserve",
    "capture",
    "create_account",
    "ensure_account",
    "find_account",
    "get_balance",
    "grant",
    "lock_account",
    "purchase",
    "refund",
    "reserve",
    "reserve_of",
    "void",
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


def lock_account(conn: Connection, account_id: str, *read: Any) -> tuple[Any, ...]:
    """Take the account's row lock for the rest of the transaction (no-op on SQLite, whose write
    transactions are already exclusive). Take it *first*: a foreign key to the account taken
    earlier in the transaction holds a weaker lock, and two transactions upgrading it deadlock.

    ``read``: scalar subqueries evaluated in the same statement (one round trip for the lock and
    what the caller needs next, e.g. the budgets); their values are returned in order.
    """
    locked = conn.execute(
        select(accounts.c.id, *read)
        .where(accounts.c.id == account_id, accounts.c.kind == "customer")
        .with_for_update(of=accounts)
    ).one_or_none()
    if locked is None:
        raise AccountNotFound(f"customer account {account_id} not found")
    return tuple(locked[1:])


def reserve(
    conn: Connection,
    account_id: str,
    job_id: str,
    amount_mc: int,
    *,
    api_key_id: str | None = None,
    project_id: str | None = None,
    model: str | None = None,
    limits: BudgetLimits | None = None,
    now: float | None = None,
    locked: bool = False,
    new_job: bool = False,
) -> str:
    """Hold ``amount_mc`` for ``job_id`` (a pending transfer to revenue).

    Budgets are checked and the hold placed under a lock on the account row, so concurrent
    reserves can neither overdraw nor slip past a budget (``locked=True``: the caller took it with
    :func:`lock_account` earlier in this transaction). ``new_job=True``: the caller created the job
    in this transaction, so no earlier reserve can exist (the transfer's unique key still guards it).
    Raises :class:`InsufficientCredits` or :class:`BudgetExceeded`.
    """
    key = f"job:{job_id}:reserve"
    if not new_job and (row := _existing(conn, key)) is not None:
        return str(row.id)
    now = time.time() if now is None else now
    # Serialize reserves per account, so budget checks and the hold see each other.
    if not locked:
        lock_account(conn, account_id)
    if limits is not None:
        check_budgets(
            conn, limits, amount_mc=amount_mc, api_key_id=api_key_id, project_id=project_id, now=now
        )
    transfer = {
        "id": _id("tr"),
        "key": key,
        "kind": "reserve",
        "debit_account_id": account_id,
        "credit_account_id": SYSTEM_ACCOUNTS["revenue"],
        "amount_mc": amount_mc,
        "state": "pending",
        "job_id": job_id,
        "api_key_id": api_key_id,
        "project_id": project_id,
        "model": model,
        "created_at": now,
    }
    if not _hold(conn, account_id, amount_mc, transfer):
        bal = get_balance(conn, account_id)
        raise InsufficientCredits(
            f"this job costs {credits(amount_mc):g} credits but only {credits(bal.available_mc):g} "
            f"are available ({credits(bal.held_mc):g} held by running jobs)"
        )
    return str(transfer["id"])


def _hold(conn: Connection, account_id: str, amount_mc: int, transfer: dict[str, Any]) -> bool:
    """Raise the account's hold by ``amount_mc`` if its available credits cover it, and record the
    pending ``transfer``; False (nothing written) when they do not. On PostgreSQL one statement (the
    update feeds the insert), elsewhere two."""
    held = (
        update(accounts)
        .where(accounts.c.id == account_id, accounts.c.balance_mc - accounts.c.held_mc >= amount_mc)
        .values(held_mc=accounts.c.held_mc + amount_mc)
    )
    if conn.dialect.name != "postgresql":
        if conn.execute(held).rowcount != 1:
            return False
        conn.execute(insert(transfers).values(**transfer))
        return True
    cte = held.returning(accounts.c.id).cte("held")
    names = list(transfer)
    values = select(*(literal(transfer[n], type_=transfers.c[n].type).label(n) for n in names))
    inserted = insert(transfers).from_select(names, values.select_from(cte)).returning(transfers.c.id)
    return conn.execute(inserted).first() is not None


def reserve_of(conn: Connection, job_id: str) -> Row[Any] | None:
    """The transfer row of ``job_id``'s reserve (pending, captured or voided), if it has one."""
    return conn.execute(select(transfers).where(transfers.c.key == f"job:{job_id}:reserve")).one_or_none()


def capture(conn: Connection, job_id: str, amount_mc: int | None = None) -> int | None:
    """Charge the job's reserve (``amount_mc`` <= reserved; default all of it), releasing the rest.

    Returns the amount charged, or None if the reserve was already settled (idempotent).
    """
    held = reserve_of(conn, job_id)
    if held is None:
        return None
    charge = held.amount_mc if amount_mc is None else amount_mc
    if not 0 <= charge <= held.amount_mc:
        raise ValueError(f"capture of {charge} exceeds the reserve of {held.amount_mc}")
    now = time.time()
    settled = conn.execute(
        update(transfers)
        .where(transfers.c.id == held.id, transfers.c.state == "pending")
        .values(state="captured", captured_mc=charge, settled_at=now)
    )
    if settled.rowcount != 1:
        return None
    conn.execute(
        update(accounts)
        .where(accounts.c.id == held.debit_account_id)
        .values(balance_mc=accounts.c.balance_mc - charge, held_mc=accounts.c.held_mc - held.amount_mc)
    )
    _post(
        conn,
        key=f"job:{job_id}:capture",
        kind="capture",
        debit=held.debit_account_id,
        credit=held.credit_account_id,
        amount_mc=charge,
        pending_id=held.id,
        job_id=job_id,
        api_key_id=held.api_key_id,
        project_id=held.project_id,
        model=held.model,
    )
    return int(charge)


def void(conn: Connection, job_id: str) -> bool:
    """Release the job's whole reserve. Returns False if it was already settled (idempotent)."""
    held = reserve_of(conn, job_id)
    if held is None:
        return False
    now = time.time()
    settled = conn.execute(
        update(transfers)
        .where(transfers.c.id == held.id, transfers.c.state == "pending")
        .values(state="voided", settled_at=now)
    )
    if settled.rowcount != 1:
        return False
    conn.execute(
        update(accounts)
        .where(accounts.c.id == held.debit_account_id)
        .values(held_mc=accounts.c.held_mc - held.amount_mc)
    )
    conn.execute(
        insert(transfers).values(
            id=_id("tr"),
            key=f"job:{job_id}:void",
            kind="void",
            debit_account_id=held.debit_account_id,
            credit_account_id=held.credit_account_id,
            amount_mc=held.amount_mc,
            state="posted",
            pending_id=held.id,
            job_id=job_id,
            api_key_id=held.api_key_id,
            project_id=held.project_id,
            model=held.model,
            created_at=now,
            settled_at=now,
        )
    )
    return True


def adjust_reserve(
    conn: Connection,
    job_id: str,
    amount_mc: int,
    *,
    model: str | None = None,
    limits: BudgetLimits | None = None,
    now: float | None = None,
) -> None:
    """Change a pending reserve to ``amount_mc`` (a fallback to another model). Raising it checks the
    balance and budgets like a new reserve; lowering it releases the difference at once."""
    held = reserve_of(conn, job_id)
    if held is None or held.state != "pending":
        raise ValueError(f"job {job_id} has no pending reserve")
    lock_account(conn, held.debit_account_id)
    delta = amount_mc - held.amount_mc
    if delta > 0:
        if limits is not None:
            check_budgets(
                conn,
                limits,
                amount_mc=delta,
                api_key_id=held.api_key_id,
                project_id=held.project_id,
                now=time.time() if now is None else now,
            )
        raised = conn.execute(
            update(accounts)
            .where(
                accounts.c.id == held.debit_account_id, accounts.c.balance_mc - accounts.c.held_mc >= delta
            )
            .values(held_mc=accounts.c.held_mc + delta)
        )
        if raised.rowcount != 1:
            raise InsufficientCredits(
                f"the fallback costs {credits(delta):g} credits more than are available"
            )
    elif delta < 0:
        conn.execute(
            update(accounts)
            .where(accounts.c.id == held.debit_account_id)
            .values(held_mc=accounts.c.held_mc + delta)
        )
    conn.execute(
        update(transfers)
        .where(transfers.c.id == held.id)
        .values(amount_mc=amount_mc, model=model or held.model)
    )


def refund(conn: Connection, job_id: str, *, reason: str, detail: dict[str, Any] | None = None) -> int:
    """Give back what the job's captured reserve charged (revenue pays the customer back), as a
    ``refund`` transfer whose ``detail`` carries ``reason``. The reserve's ``captured_mc`` becomes the
    net charge (0), so budgets count nothing for it. Returns the amount refunded; 0 if the reserve was
    not captured or was already refunded (idempotent).
    """
    held = reserve_of(conn, job_id)
    if held is None or held.state != "captured" or not held.captured_mc:
        return 0
    key = f"job:{job_id}:refund"
    if _existing(conn, key) is not None:
        return 0
    amount = int(held.captured_mc)
    conn.execute(
        update(accounts)
        .where(accounts.c.id == held.credit_account_id)
        .values(balance_mc=accounts.c.balance_mc - amount)
    )
    conn.execute(update(transfers).where(transfers.c.id == held.id).values(captured_mc=0))
    _post(
        conn,
        key=key,
        kind="refund",
        debit=held.credit_account_id,
        credit=held.debit_account_id,
        amount_mc=amount,
        pending_id=held.id,
        job_id=job_id,
        api_key_id=held.api_key_id,
        project_id=held.project_id,
        model=held.model,
        detail={"reason": reason, **(detail or {})},
    )
    return amount
