"""Hypothesis drives the ledger with random reserves, captures, voids, grants and webhook deliveries
(duplicates and out of order), checking every invariant after every step."""

from __future__ import annotations

import json
import time
from pathlib import Path

import hypothesis.strategies as st
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from sqlalchemy import func, select

import billing
from billing.schema import stripe_sessions, transfers
from gateway.db import Database, upgrade

PACK = billing.CreditPack("starter", credits_mc=5000, price_cents=500)


def _event(event_id: str, kind: str, session_id: str, paid: bool = True) -> dict:
    return {
        "id": event_id,
        "type": kind,
        "data": {"object": {"id": session_id, "payment_status": "paid" if paid else "unpaid"}},
    }


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(f"/tmp/framegate-hypothesis-{time.monotonic_ns()}.db")
        self.db = Database(f"sqlite:///{self.tmp}", pool_size=2)
        upgrade(self.db)
        self.jobs: list[str] = []
        self.sessions: list[str] = []
        self.events: list[dict] = []
        self.captured: dict[str, int] = {}
        self.n = 0

    @initialize(names=st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3, unique=True))
    def open_accounts(self, names: list[str]) -> None:
        with self.db.write() as conn:
            self.accounts = [billing.create_account(conn, n) for n in names]

    @rule(i=st.integers(0, 2), amount=st.integers(1, 20_000))
    def grant(self, i: int, amount: int) -> None:
        with self.db.write() as conn:
            billing.grant(conn, self.accounts[i % len(self.accounts)], amount)

    @rule(i=st.integers(0, 2), amount=st.integers(0, 9000), daily=st.none() | st.integers(0, 30_000))
    def reserve(self, i: int, amount: int, daily: int | None) -> None:
        self.n += 1
        job = f"job{self.n}"
        try:
            with self.db.write() as conn:
                billing.reserve(
                    conn,
                    self.accounts[i % len(self.accounts)],
                    job,
                    amount,
                    api_key_id="k",
                    limits=billing.BudgetLimits(key_daily_mc=daily),
                )
            self.jobs.append(job)
        except (billing.InsufficientCredits, billing.BudgetExceeded):
            pass

    @precondition(lambda self: self.jobs)
    @rule(pick=st.integers(0, 10**6), fraction=st.floats(0, 1))
    def capture(self, pick: int, fraction: float) -> None:
        job = self.jobs[pick % len(self.jobs)]
        with self.db.write() as conn:
            reserved = conn.execute(
                select(transfers.c.amount_mc).where(transfers.c.key == f"job:{job}:reserve")
            ).scalar_one()
            charged = billing.capture(conn, job, int(reserved * fraction))
        if charged is not None:
            assert job not in self.captured, "a job was captured twice"
            self.captured[job] = charged

    @precondition(lambda self: self.jobs)
    @rule(pick=st.integers(0, 10**6))
    def void(self, pick: int) -> None:
        with self.db.write() as conn:
            billing.void(conn, self.jobs[pick % len(self.jobs)])

    @rule(i=st.integers(0, 2))
    def open_checkout(self, i: int) -> None:
        session = f"cs_{len(self.sessions)}"
        with self.db.write() as conn:
            billing.record_session(conn, session, self.accounts[i % len(self.accounts)], PACK)
        self.sessions.append(session)
        kind = "checkout.session.completed"
        self.events.append(_event(f"evt_{len(self.events)}", kind, session, paid=i != 1))
        if i == 1:  # paid later, asynchronously
            self.events.append(
                _event(f"evt_{len(self.events)}", "checkout.session.async_payment_succeeded", session)
            )

    @precondition(lambda self: self.events)
    @rule(pick=st.integers(0, 10**6))
    def deliver_webhook(self, pick: int) -> None:
        # Any event, any number of times, in any order.
        event = json.loads(json.dumps(self.events[pick % len(self.events)]))
        with self.db.write() as conn:
            billing.handle_webhook(conn, event)

    @invariant()
    def ledger_is_sound(self) -> None:
        if not hasattr(self, "accounts"):
            return
        with self.db.read() as conn:
            assert billing.verify_ledger(conn) == []
            for acct in self.accounts:
                assert billing.get_balance(conn, acct).available_mc >= 0
            credited = conn.execute(
                select(func.count()).select_from(transfers).where(transfers.c.kind == "purchase")
            ).scalar_one()
            sessions_credited = conn.execute(
                select(func.count())
                .select_from(stripe_sessions)
                .where(stripe_sessions.c.status == "credited")
            ).scalar_one()
            assert credited == sessions_credited <= len(self.sessions)

    def teardown(self) -> None:
        self.db.dispose()
        self.tmp.unlink(missing_ok=True)
        for suffix in ("-wal", "-shm"):
            Path(str(self.tmp) + suffix).unlink(missing_ok=True)


LedgerMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=30, deadline=None)
TestLedger = LedgerMachine.TestCase
