"""Billing tables. Amounts are integer millicredits (1 credit = 1000) so that sums are exact."""

from __future__ import annotations

from sqlalchemy import (
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

__all__ = ["accounts", "credit_entries", "credit_holds", "metadata"]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("balance_mc", BigInteger, nullable=False, default=0),
    Column("held_mc", BigInteger, nullable=False, default=0),
    Column("created_at", Float, nullable=False),
    CheckConstraint("held_mc >= 0", name="held_nonnegative"),
    CheckConstraint("balance_mc - held_mc >= 0", name="available_nonnegative"),
)

credit_holds = Table(
    "credit_holds",
    metadata,
    Column("job_id", String(40), primary_key=True),
    Column("account_id", String(40), ForeignKey("accounts.id"), nullable=False),
    Column("amount_mc", BigInteger, nullable=False),
    Column("state", String(16), nullable=False),  # held | captured | released
    Column("captured_mc", BigInteger, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("settled_at", Float, nullable=True),
    CheckConstraint("amount_mc >= 0", name="amount_nonnegative"),
    CheckConstraint("state IN ('held', 'captured', 'released')", name="state_known"),
    Index("ix_credit_holds_account_state", "account_id", "state"),
)

credit_entries = Table(
    "credit_entries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(40), ForeignKey("accounts.id"), nullable=False),
    Column("kind", String(16), nullable=False),  # grant | capture
    Column("amount_mc", BigInteger, nullable=False),  # signed: + grant, - capture
    Column("ref", String(80), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    Index("ix_credit_entries_account", "account_id", "id"),
)
