"""A job's two-phase transfers: the reserve (a pending hold), then its capture or void, a reserve that
moves to a fallback model, and the refund of a captured charge. Same rules as :mod:`billing.ledger`:
each takes the caller's ``Connection`` and has a unique idempotency key (``job:<id>:reserve``...).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, bindparam, insert, select, update

from .budgets import BudgetLimits, check_budgets
from .errors import InsufficientCredits
from .ledger import _existing, _id, _post, get_balance, lock_account
from .pricing import credits
from .schema import SYSTEM_ACCOUNTS, accounts, transfers

__all__ = [
    "Hold",
    "adjust_reserve",
    "capture",
    "hold_cte",
    "place",
    "plan_hold",
    "refund",
    "reserve",
    "reserve_of",
    "void",
]


@dataclass(frozen=True)
class Hold:
    """A job's credit hold, planned (its budgets checked) but not yet placed: :func:`place` places it,
    or a caller on PostgreSQL folds :func:`hold_cte` into its own statement with :attr:`params`."""

    account_id: str
    amount_mc: int
    transfer: dict[str, Any]

    @property
    def names(self) -> tuple[str, ...]:
        """The transfer's fields (what :func:`hold_cte` is built for)."""
        return tuple(self.transfer)

    @property
    def params(self) -> dict[str, Any]:
        """The bind parameters of :func:`hold_cte`."""
        return {
            "hold_account_id": self.account_id,
            "hold_mc": self.amount_mc,
            **{f"t_{n}": v for n, v in self.transfer.items()},
        }

    def refused(self, conn: Connection) -> InsufficientCredits:
        """The error for a hold that did not fit the account's available credits."""
        bal = get_balance(conn, self.account_id)
        return InsufficientCredits(
            f"this job costs {credits(self.amount_mc):g} credits but only {credits(bal.available_mc):g} "
            f"are available ({credits(bal.held_mc):g} held by running jobs)"
        )


def plan_hold(
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
) -> Hold:
    """Check ``job_id``'s budgets and plan its hold of ``amount_mc``. The caller holds the account's
    lock (:func:`lock_account`), so the budget check and the hold see every other reserve.
    Raises :class:`BudgetExceeded`."""
    now = time.time() if now is None else now
    if limits is not None:
        check_budgets(
            conn, limits, amount_mc=amount_mc, api_key_id=api_key_id, project_id=project_id, now=now
        )
    transfer = {
        "id": _id("tr"),
        "key": f"job:{job_id}:reserve",
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
    return Hold(account_id, amount_mc, transfer)


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
) -> str:
    """Hold ``amount_mc`` for ``job_id`` (a pending transfer to revenue); the transfer's id.

    Budgets are checked and the hold placed under a lock on the account row, so concurrent
    reserves can neither overdraw nor slip past a budget (``locked=True``: the caller took it with
    :func:`lock_account` earlier in this transaction). A job's second reserve returns the first.
    Raises :class:`InsufficientCredits` or :class:`BudgetExceeded`.
    """
    if (row := _existing(conn, f"job:{job_id}:reserve")) is not None:
        return str(row.id)
    # Serialize reserves per account, so budget checks and the hold see each other.
    if not locked:
        lock_account(conn, account_id)
    hold = plan_hold(
        conn,
        account_id,
        job_id,
        amount_mc,
        api_key_id=api_key_id,
        project_id=project_id,
        model=model,
        limits=limits,
        now=now,
    )
    place(conn, hold)
    return str(hold.transfer["id"])


# A hold: raise the account's held credits if its available credits cover the amount.
_HOLD = (
    update(accounts)
    .where(
        accounts.c.id == bindparam("hold_account_id"),
        accounts.c.balance_mc - accounts.c.held_mc >= bindparam("hold_mc"),
    )
    .values(held_mc=accounts.c.held_mc + bindparam("hold_mc"))
)
_HOLD_CTES: dict[tuple[str, ...], Any] = {}


def hold_cte(names: tuple[str, ...]) -> Any:
    """PostgreSQL: a CTE that places a :class:`Hold` with fields ``names``: the hold feeds the
    transfer's insert, and the CTE's one row is the transfer's id (no row: the credits did not cover
    it, and nothing was written). Built once per field set; bind :attr:`Hold.params`."""
    cte = _HOLD_CTES.get(names)
    if cte is None:
        held = _HOLD.returning(accounts.c.id).cte("held")
        values = select(*(bindparam(f"t_{n}", type_=transfers.c[n].type).label(n) for n in names))
        recorded = insert(transfers).from_select(list(names), values.select_from(held))
        cte = _HOLD_CTES[names] = recorded.returning(transfers.c.id).cte("reserved")
    return cte


def place(conn: Connection, hold: Hold) -> None:
    """Place ``hold``: raise the account's held credits and record the pending transfer, in one
    statement on PostgreSQL, elsewhere two. Raises :class:`InsufficientCredits` (nothing written)."""
    if conn.dialect.name != "postgresql":
        if conn.execute(_HOLD, hold.params).rowcount != 1:
            raise hold.refused(conn)
        conn.execute(insert(transfers), hold.transfer)
        return
    reserved = hold_cte(hold.names)
    if conn.execute(select(reserved.c.id), hold.params).first() is None:
        raise hold.refused(conn)


def _tags(held: Row[Any]) -> dict[str, Any]:
    """What a job's transfers carry from its reserve: the job, key, project and model they are for."""
    return {
        "job_id": held.job_id,
        "api_key_id": held.api_key_id,
        "project_id": held.project_id,
        "model": held.model,
    }


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
        **_tags(held),
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
            **_tags(held),
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
        **_tags(held),
        detail={"reason": reason, **(detail or {})},
    )
    return amount
