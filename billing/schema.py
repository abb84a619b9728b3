"""Billing tables. Amounts are integer millicredits (1 credit = 1000), so sums are exact.

Double entry: every posted transfer writes two ``entries`` (one negative, one positive) that sum to
zero; an account's ``balance_mc`` is the sum of its entries. A reserve is a *pending* transfer: it
moves no money but raises the customer's ``held_mc``. System accounts (grants, Stripe funding,
revenue) may go negative; customer accounts never can (CHECK constraint + conditional updates).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
)

__all__ = [
    "SYSTEM_ACCOUNTS",
    "accounts",
    "entries",
    "metadata",
    "stripe_events",
    "stripe_sessions",
    "transfers",
    "usage_records",
]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# Fixed ids of the system accounts (created by the initial migration).
SYSTEM_ACCOUNTS = {"grants": "sys_grants", "stripe_funding": "sys_stripe_funding", "revenue": "sys_revenue"}

accounts = Table(
    "accounts",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("kind", String(16), nullable=False, default="customer"),
    Column("balance_mc", BigInteger, nullable=False, default=0),
    Column("held_mc", BigInteger, nullable=False, default=0),
    Column("created_at", Float, nullable=False),
    # Whether a take with a hard defect is re-rendered, then refunded (None: the gateway's default).
    Column("qc_settlement", String(16), nullable=True),
    CheckConstraint("kind IN ('customer', 'system')", name="kind_known"),
    CheckConstraint("held_mc >= 0", name="held_nonnegative"),
    CheckConstraint("kind = 'system' OR balance_mc - held_mc >= 0", name="available_nonnegative"),
)

transfers = Table(
    "transfers",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("key", String(160), nullable=False, unique=True),  # idempotency: one transfer per key, ever
    Column("kind", String(16), nullable=False),  # grant | purchase | reserve | capture | void | refund
    Column("debit_account_id", String(40), ForeignKey("accounts.id"), nullable=False),
    Column("credit_account_id", String(40), ForeignKey("accounts.id"), nullable=False),
    Column("amount_mc", BigInteger, nullable=False),
    Column("state", String(16), nullable=False),  # posted | pending | captured | voided
    Column("pending_id", String(40), ForeignKey("transfers.id"), nullable=True),
    Column("captured_mc", BigInteger, nullable=True),  # on a reserve, once captured
    Column("job_id", String(40), nullable=True),
    Column("api_key_id", String(40), nullable=True),
    Column("project_id", String(40), nullable=True),
    Column("model", String(64), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("settled_at", Float, nullable=True),
    Column("detail", JSON, nullable=True),
    CheckConstraint("amount_mc >= 0", name="amount_nonnegative"),
    CheckConstraint(
        "kind IN ('grant', 'purchase', 'reserve', 'capture', 'void', 'refund')", name="kind_known"
    ),
    CheckConstraint("state IN ('posted', 'pending', 'captured', 'voided')", name="state_known"),
    CheckConstraint(
        "captured_mc IS NULL OR (captured_mc >= 0 AND captured_mc <= amount_mc)",
        name="capture_within_reserve",
    ),
    Index("ix_transfers_job", "job_id"),
    Index("ix_transfers_debit_state", "debit_account_id", "state"),
    Index("ix_transfers_key_time", "api_key_id", "created_at"),
    Index("ix_transfers_project", "project_id"),
)

entries = Table(
    "entries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("transfer_id", String(40), ForeignKey("transfers.id"), nullable=False, index=True),
    Column("account_id", String(40), ForeignKey("accounts.id"), nullable=False),
    Column("amount_mc", BigInteger, nullable=False),  # signed
    Column("created_at", Float, nullable=False),
    Index("ix_entries_account", "account_id", "id"),
)

stripe_sessions = Table(
    "stripe_sessions",
    metadata,
    Column("id", String(255), primary_key=True),  # Stripe's Checkout Session id
    Column("account_id", String(40), ForeignKey("accounts.id"), nullable=False),
    Column("pack_id", String(64), nullable=False),
    Column("credits_mc", BigInteger, nullable=False),  # what we sold, by our own record
    Column("price_cents", Integer, nullable=False),
    Column("currency", String(8), nullable=False),
    Column("status", String(16), nullable=False),  # open | credited
    Column("created_at", Float, nullable=False),
    Column("credited_at", Float, nullable=True),
)

stripe_events = Table(
    "stripe_events",
    metadata,
    Column("id", String(255), primary_key=True),  # Stripe's event id: each event handled once
    Column("type", String(64), nullable=False),
    Column("session_id", String(255), nullable=True),
    Column("outcome", String(32), nullable=False),
    Column("received_at", Float, nullable=False),
)

usage_records = Table(
    "usage_records",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", String(40), nullable=False, unique=True),
    Column("account_id", String(40), ForeignKey("accounts.id"), nullable=False),
    Column("api_key_id", String(40), nullable=True),
    Column("project_id", String(40), nullable=True),
    Column("model", String(64), nullable=False),
    Column("backend", String(64), nullable=False),
    Column("video_seconds", Float, nullable=False),
    Column("frames", Integer, nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("device_seconds", Float, nullable=False),
    Column("cost_mc", BigInteger, nullable=False),
    Column("created_at", Float, nullable=False),
    Index("ix_usage_account_time", "account_id", "created_at"),
)
