"""The ledger check reads several tables; it must judge one moment. A hold committed between two of
its reads (a create in flight while ``framegate ledger verify`` or the gateway's periodic check runs)
is not a broken ledger. On SQLite and PostgreSQL."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event

import billing


def test_a_hold_committed_during_the_check_is_not_reported_broken(db) -> None:  # type: ignore[no-untyped-def]
    with db.write() as conn:
        account = billing.create_account(conn, f"s{time.monotonic_ns()}")
        billing.grant(conn, account, 10_000)
    seen: list[str] = []
    landed: list[str] = []

    def create_between_reads(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if landed or conn.get_execution_options().get("framegate_write"):
            return
        seen.append(statement)
        if "FROM accounts" not in statement or len(seen) < 2:
            return
        # After the check summed the pending reserves, before it reads the accounts' holds: a create.
        landed.append("yes")
        with db.write() as other:
            billing.reserve(other, account, "job-during-check", 2_500, model="m")

    with db.snapshot() as conn:
        event.listen(db.engine, "before_cursor_execute", create_between_reads)
        try:
            problems = billing.verify_ledger(conn)
        finally:
            event.remove(db.engine, "before_cursor_execute", create_between_reads)
    assert landed and problems == []
    with db.snapshot() as conn:
        assert billing.verify_ledger(conn) == []
