"""The webhook tables: endpoints, the per-account secret for one-off targets, and the outbox
(events, one delivery per target, every attempt)."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Float, ForeignKey, Index, Integer, String, Table, Text

from billing import metadata

__all__ = ["webhook_attempts", "webhook_deliveries", "webhook_endpoints", "webhook_events", "webhook_secrets"]

# A signing secret is never stored: it is derived from the gateway's secret key and the row's
# random nonce (gateway.engine.webhooks.signing), so a copy of the database alone cannot forge.
webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("account_id", String(40), ForeignKey("accounts.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("url", String(2048), nullable=False),
    Column("event_types", JSON, nullable=False),
    Column("nonce", String(64), nullable=False),
    Column("previous_nonce", String(64), nullable=True),  # still signs until previous_until
    Column("previous_until", Float, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("deleted_at", Float, nullable=True),
    Index("ix_webhook_endpoints_account", "account_id", "id"),
)

webhook_secrets = Table(
    "webhook_secrets",
    metadata,
    Column("account_id", String(40), ForeignKey("accounts.id"), primary_key=True),
    Column("nonce", String(64), nullable=False),
    Column("previous_nonce", String(64), nullable=True),
    Column("previous_until", Float, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

webhook_events = Table(
    "webhook_events",
    metadata,
    Column("id", String(40), primary_key=True),  # the webhook-id receivers deduplicate on
    Column("account_id", String(40), ForeignKey("accounts.id"), nullable=False),
    Column("type", String(64), nullable=False),
    Column("subject_id", String(40), nullable=True),  # the video the event is about
    Column("payload", Text, nullable=False),  # the exact body: every retry sends the same bytes
    Column("created_at", Float, nullable=False),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("event_id", String(40), ForeignKey("webhook_events.id"), nullable=False),
    Column("account_id", String(40), ForeignKey("accounts.id"), nullable=False),
    Column("endpoint_id", String(40), ForeignKey("webhook_endpoints.id"), nullable=True),
    Column("url", String(2048), nullable=True),  # a one-off target (the create's webhook_url)
    Column("status", String(16), nullable=False),  # pending, delivering, delivered, failed
    Column("attempts", Integer, nullable=False),
    # When it is next due; while it is being sent, when the sender's claim lapses.
    Column("next_attempt_at", Float, nullable=False),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("delivered_at", Float, nullable=True),
    Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    Index("ix_webhook_deliveries_account", "account_id", "id"),
    Index("ix_webhook_deliveries_event", "event_id"),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("delivery_id", String(40), ForeignKey("webhook_deliveries.id"), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("attempted_at", Float, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("error", Text, nullable=True),
    Column("duration_ms", Float, nullable=False),
    Index("ix_webhook_attempts_delivery", "delivery_id", "id"),
)
