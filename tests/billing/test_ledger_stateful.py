"""Hypothesis drives the ledger with random reserves, captures, voids, grants and webhook deliveries
(duplicates and out of order), checking every invariant after every step.

A plain model runs alongside: what each account's balance and holds must be, which reserves are
pending. A capture of a pending reserve must charge exactly the amount asked (not a millicredit
more or less, and not nothing), and every balance must match the model after every step."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import hypothesis.strategies as st
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from sqlalchemy import func, select

import billing
from billing.schema import stripe_sessions, transfers
from gateway.engine.db import Database, upgrade

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
        # The model: balance and held per account, pending reserves, sessions and their accounts.
        self.balance: dict[str, int] = {}
        self.held: dict[str, int] = {}
        self.pending: dict[str, tuple[str, int]] = {}  # job -> (account, reserved)
        self.session_account: dict[str, str] = {}
        self.credited: set[str] = set()

    @initialize(names=st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3, unique=True))
    def open_accounts(self, names: list[str]) -> None:
        with self.db.write() as conn:
            self.accounts = [billing.create_account(conn, n) for n in names]
        self.balance = dict.fromkeys(self.accounts, 0)
        self.held = dict.fromkeys(self.accounts, 0)

    @rule(i=st.integers(0, 2), amount=st.integers(1, 20_000))
    def grant(self, i: int, amount: int) -> None:
        account = self.accounts[i % len(self.accounts)]
        with self.db.write() as conn:
            billing.grant(conn, account, amount)
        self.balance[account] += amount

    @rule(i=st.integers(0, 2), amount=st.integers(0, 9000), daily=st.none() | st.integers(0, 30_000))
    def reserve(self, i: int, amount: int, daily: int | None) -> None:
        self.n += 1
        job = f"job{self.n}"
        account = self.accounts[i % len(self.accounts)]
        try:
            with self.db.write() as conn:
                billing.reserve(
                    conn,
                    account,
                    job,
                    amount,
                    api_key_id="k",
                    limits=billing.BudgetLimits(key_daily_mc=daily),
                )
        except billing.InsufficientCredits:
            assert self.balance[account] - self.held[account] < amount, "refused a reserve it could pay"
        except billing.BudgetExceeded:
            assert daily is not None
        else:
            assert self.balance[account] - self.held[account] >= amount, "reserved more than available"
            self.jobs.append(job)
            self.pending[job] = (account, amount)
            self.held[account] += amount

    @precondition(lambda self: self.jobs)
    @rule(pick=st.integers(0, 10**6), fraction=st.floats(0, 1))
    def capture(self, pick: int, fraction: float) -> None:
        job = self.jobs[pick % len(self.jobs)]
        with self.db.write() as conn:
            reserved = conn.execute(
                select(transfers.c.amount_mc).where(transfers.c.key == f"job:{job}:reserve")
            ).scalar_one()
            charged = billing.capture(conn, job, int(reserved * fraction))
        if job not in self.pending:  # already captured or voided: settled once, never again
            assert charged is None, f"{job} was settled already, yet {charged} was captured"
            return
        account, held = self.pending.pop(job)
        assert held == reserved
        assert charged == int(reserved * fraction), "a capture must charge exactly the amount asked"
        assert job not in self.captured, "a job was captured twice"
        self.captured[job] = charged
        self.balance[account] -= charged
        self.held[account] -= held

    @precondition(lambda self: self.jobs)
    @rule(pick=st.integers(0, 10**6))
    def void(self, pick: int) -> None:
        job = self.jobs[pick % len(self.jobs)]
        with self.db.write() as conn:
            voided = billing.void(conn, job)
        assert voided == (job in self.pending), f"void of {job} returned {voided}"
        if job in self.pending:
            account, held = self.pending.pop(job)
            self.held[account] -= held

    @rule(i=st.integers(0, 2))
    def open_checkout(self, i: int) -> None:
        session = f"cs_{len(self.sessions)}"
        account = self.accounts[i % len(self.accounts)]
        with self.db.write() as conn:
            billing.record_session(conn, session, account, PACK)
        self.sessions.append(session)
        self.session_account[session] = account
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
        session = event["data"]["object"]["id"]
        pays = (
            event["type"] == "checkout.session.async_payment_succeeded"
            or event["data"]["object"]["payment_status"] == "paid"
        )
        if pays and session not in self.credited:  # a session is credited once, by its first payment
            self.credited.add(session)
            self.balance[self.session_account[session]] += PACK.credits_mc

    @invariant()
    def ledger_is_sound(self) -> None:
        if not hasattr(self, "accounts"):
            return
        with self.db.read() as conn:
            assert billing.verify_ledger(conn) == []
            for acct in self.accounts:
                balance = billing.get_balance(conn, acct)
                assert balance.available_mc >= 0
                assert (balance.balance_mc, balance.held_mc) == (self.balance[acct], self.held[acct])
            credited = conn.execute(
                select(func.count()).select_from(transfers).where(transfers.c.kind == "purchase")
            ).scalar_one()
            sessions_credited = conn.execute(
                select(func.count())
                .select_from(stripe_sessions)
                .where(stripe_sessions.c.status == "credited")
            ).scalar_one()
            assert credited == sessions_credited == len(self.credited) <= len(self.sessions)
            captured = conn.execute(
                select(func.coalesce(func.sum(transfers.c.captured_mc), 0)).where(
                    transfers.c.kind == "reserve", transfers.c.state == "captured"
                )
            ).scalar_one()
            assert captured == sum(self.captured.values())

    def teardown(self) -> None:
        self.db.dispose()
        self.tmp.unlink(missing_ok=True)
        for suffix in ("-wal", "-shm"):
            Path(str(self.tmp) + suffix).unlink(missing_ok=True)


# bench/mutation.py runs this once per mutant: it asks for fewer examples through the environment.
LedgerMachine.TestCase.settings = settings(
    max_examples=int(os.environ.get("FRAMEGATE_HYPOTHESIS_EXAMPLES", "40")),
    stateful_step_count=30,
    deadline=None,
)
TestLedger = LedgerMachine.TestCase
