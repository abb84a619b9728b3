"""The gateway's tables (API keys, jobs), on the same metadata as billing's."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from billing import metadata

__all__ = [
    "api_keys",
    "characters",
    "cuts",
    "idempotency_keys",
    "jobs",
    "key_revocations",
    "metadata",
    "projects",
    "sessions",
    "shots",
    "takes",
]

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("account_id", String(40), ForeignKey("accounts.id"), nullable=False, index=True),
    Column("name", String(128), nullable=True),
    Column("prefix", String(16), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    Column("revoked_at", Float, nullable=True),
    Column("daily_budget_mc", BigInteger, nullable=True),
    Column("monthly_budget_mc", BigInteger, nullable=True),
)

projects = Table(
    "projects",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("account_id", String(40), ForeignKey("accounts.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("brief", Text, nullable=True),
    Column("budget_mc", BigInteger, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("deleted_at", Float, nullable=True),
    Index("ix_projects_account", "account_id", "id"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("account_id", String(40), ForeignKey("accounts.id"), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("route", String(64), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("response", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
    Index("ix_idempotency_created", "created_at"),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("account_id", String(40), ForeignKey("accounts.id"), nullable=False),
    Column("key_id", String(40), nullable=True),
    Column("project_id", String(40), nullable=True),
    Column("status", String(16), nullable=False),
    Column("requested_model", String(64), nullable=True),
    Column("model", String(64), nullable=False),
    Column("backend", String(64), nullable=False),
    Column("prompt", Text, nullable=False),
    Column("prompt_key", String(64), nullable=True),  # sha256 of the normalized prompt (regeneration guard)
    Column("seconds", String(16), nullable=False),
    Column("size", String(16), nullable=False),
    Column("params", JSON, nullable=False),
    Column("input_path", String(255), nullable=True),
    Column("input_sha256", String(64), nullable=True),
    Column("progress", Integer, nullable=False, default=0),
    Column("quoted_mc", BigInteger, nullable=False),
    Column("eta_seconds", Float, nullable=True),
    Column("candidates", JSON, nullable=True),  # the fallback chain: [{model, backend, params, price_mc}]
    Column("cost_mc", BigInteger, nullable=True),
    Column("error_code", String(64), nullable=True),
    Column("error_message", Text, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("started_at", Float, nullable=True),
    Column("completed_at", Float, nullable=True),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_expires_at", Float, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("cancel_requested", Boolean, nullable=False, default=False),
    Column("deleted_at", Float, nullable=True),
    Column("result", JSON, nullable=True),
    Column("webhook_url", String(2048), nullable=True),  # a one-off target of its terminal event
    Column("source_video_id", String(40), nullable=True),  # remixed, extended or edited from
    Column("source_kind", String(16), nullable=True),  # remix, extension, edit
    Column("expired_at", Float, nullable=True),  # its clips were deleted by the retention sweeper
    # A hosted provider's job handle ({backend, model, id, ...}), written before the first poll: a
    # restarted gateway resumes that provider job instead of submitting (and paying for) another.
    Column("external", JSON, nullable=True),
    # A take re-rendered for a hard defect: {"seed": the first render's seed, "flags": [...]}
    Column("rerender", JSON, nullable=True),
    Index("ix_jobs_account_id", "account_id", "id"),
    Index("ix_jobs_status_id", "status", "id"),
    # A create reads both under the account's lock: how often its prompt ran on the model, and the
    # account's last video there. prompt_key before model, so that no plan reads the last video
    # through the first index and sorts the account's whole history on the model.
    Index("ix_jobs_regeneration", "account_id", "prompt_key", "model"),
    Index("ix_jobs_account_model", "account_id", "model", "id"),
    Index("ix_jobs_completed", "status", "completed_at"),
)

shots = Table(
    "shots",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("project_id", String(40), ForeignKey("projects.id"), nullable=False),
    Column("account_id", String(40), ForeignKey("accounts.id"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("prompt", Text, nullable=False),
    Column("image_path", String(255), nullable=True),
    Column("size", String(16), nullable=True),
    Column("seconds", Float, nullable=True),
    Column("notes", Text, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("deleted_at", Float, nullable=True),
    Index("ix_shots_project", "project_id", "position"),
)

takes = Table(
    "takes",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("shot_id", String(40), ForeignKey("shots.id"), nullable=False),
    Column("job_id", String(40), ForeignKey("jobs.id"), nullable=False, unique=True),
    Column("prompt", Text, nullable=False),  # as rendered: a re-render may change it
    Column("parent_take_id", String(40), ForeignKey("takes.id"), nullable=True),
    Column("change", Text, nullable=True),  # what changed from the parent take
    Column("is_winner", Boolean, nullable=False, default=False),
    Column("created_at", Float, nullable=False),
    Index("ix_takes_shot", "shot_id", "created_at"),
)

cuts = Table(
    "cuts",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("project_id", String(40), ForeignKey("projects.id"), nullable=False),
    Column("take_ids", JSON, nullable=False),
    Column("size", String(16), nullable=False),
    Column("fps", Integer, nullable=False),
    Column("seconds", Float, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("qc", JSON, nullable=True),  # continuity across its cuts (local_models.qc_continuity)
    Index("ix_cuts_project", "project_id", "created_at"),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),  # sha256 of the cookie's random token
    Column("key_id", String(40), ForeignKey("api_keys.id"), nullable=False),
    Column("account_id", String(40), ForeignKey("accounts.id"), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    # A new key's secret, shown once on the next keys page and cleared as it is shown.
    Column("reveal", String(128), nullable=True),
)

characters = Table(
    "characters",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("account_id", String(40), ForeignKey("accounts.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("image_path", String(255), nullable=False),  # the reference frame, a PNG
    Column("image_sha256", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Index("ix_characters_account", "account_id", "id"),
)

# One row: bumped in the same transaction as every key revocation, so each gateway process can tell
# in one point read whether its cache of recently seen keys may still hold a revoked one.
key_revocations = Table(
    "key_revocations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version", BigInteger, nullable=False),
)
