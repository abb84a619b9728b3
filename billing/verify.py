"""Every ledger invariant, checked from the rows (``framegate ledger verify``)."""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from .schema import accounts, entries, transfers

__all__ = ["verify_ledger"]


def verify_ledger(conn: Connection) -> list[str]:
    """Return the broken invariants (empty when the ledger is sound)."""
    problems: list[str] = []
    for row in conn.execute(
        select(entries.c.transfer_id, func.sum(entries.c.amount_mc).label("total"))
        .group_by(entries.c.transfer_id)
        .having(func.sum(entries.c.amount_mc) != 0)
    ):
        problems.append(f"transfer {row.transfer_id}: entries sum to {row.total}, not 0")
    posted = dict(
        conn.execute(
            select(entries.c.account_id, func.sum(entries.c.amount_mc)).group_by(entries.c.account_id)
        ).all()
    )
    pending = dict(
        conn.execute(
            select(transfers.c.debit_account_id, func.sum(transfers.c.amount_mc))
            .where(transfers.c.kind == "reserve", transfers.c.state == "pending")
            .group_by(transfers.c.debit_account_id)
        ).all()
    )
    total = 0
    for acct in conn.execute(select(accounts)):
        total += acct.balance_mc
        if acct.balance_mc != int(posted.get(acct.id, 0)):
            problems.append(
                f"account {acct.id}: balance {acct.balance_mc} but its entries sum to "
                f"{int(posted.get(acct.id, 0))}"
            )
        if acct.held_mc != int(pending.get(acct.id, 0)):
            problems.append(
                f"account {acct.id}: held {acct.held_mc} but pending reserves sum to "
                f"{int(pending.get(acct.id, 0))}"
            )
        if acct.kind == "customer" and acct.balance_mc - acct.held_mc < 0:
            problems.append(f"account {acct.id}: available credits are negative")
    if total != 0:
        problems.append(f"account balances sum to {total}, not 0")
    reserves = {r.id: r for r in conn.execute(select(transfers).where(transfers.c.kind == "reserve"))}
    settled: dict[str, list[str]] = {}
    charged: dict[str, int] = {}  # per reserve: captured minus refunded
    for t in conn.execute(select(transfers).where(transfers.c.kind.in_(("capture", "void", "refund")))):
        if t.kind != "refund":
            settled.setdefault(t.pending_id, []).append(t.kind)
        reserve = reserves.get(t.pending_id)
        if reserve is None:
            problems.append(f"{t.kind} {t.id} settles no reserve")
        elif t.kind == "capture" and t.amount_mc > reserve.amount_mc:
            problems.append(f"capture {t.id} of {t.amount_mc} exceeds reserve {reserve.id}")
        elif t.kind == "refund" and reserve.state != "captured":
            problems.append(f"refund {t.id} refunds reserve {reserve.id}, which is {reserve.state}")
        sign = {"capture": 1, "refund": -1}.get(t.kind, 0)
        charged[t.pending_id] = charged.get(t.pending_id, 0) + sign * t.amount_mc
    for reserve_id, kinds in settled.items():
        if len(kinds) > 1:
            problems.append(f"reserve {reserve_id} settled {len(kinds)} times ({', '.join(kinds)})")
    for reserve in reserves.values():
        expected = {"pending": [], "captured": ["capture"], "voided": ["void"]}.get(reserve.state)
        if expected is not None and settled.get(reserve.id, []) != expected:
            problems.append(
                f"reserve {reserve.id} is {reserve.state} but was settled by {settled.get(reserve.id)}"
            )
        if reserve.state == "captured" and charged.get(reserve.id, 0) != reserve.captured_mc:
            problems.append(
                f"its capture and refunds net {charged.get(reserve.id, 0)}, which does not match reserve "
                f"{reserve.id} ({reserve.captured_mc} charged)"
            )
    jobs_reserved = conn.execute(
        select(transfers.c.job_id, func.count())
        .where(transfers.c.kind == "reserve")
        .group_by(transfers.c.job_id)
        .having(func.count() > 1)
    ).all()
    for job_id, count in jobs_reserved:
        problems.append(f"job {job_id} has {count} reserves")
    return problems
