"""initial schema

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("balance_mc", sa.BigInteger(), nullable=False),
        sa.Column("held_mc", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.CheckConstraint(
            "kind = 'system' OR balance_mc - held_mc >= 0", name=op.f("ck_accounts_available_nonnegative")
        ),
        sa.CheckConstraint("kind IN ('customer', 'system')", name=op.f("ck_accounts_kind_known")),
        sa.CheckConstraint("held_mc >= 0", name=op.f("ck_accounts_held_nonnegative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("name", name=op.f("uq_accounts_name")),
    )
    op.create_table(
        "stripe_events",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=255), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("received_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stripe_events")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=True),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("revoked_at", sa.Float(), nullable=True),
        sa.Column("daily_budget_mc", sa.BigInteger(), nullable=True),
        sa.Column("monthly_budget_mc", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_api_keys_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_keys_account_id"), ["account_id"], unique=False)

    op.create_table(
        "idempotency_keys",
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("route", sa.String(length=64), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_idempotency_keys_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("account_id", "key", name=op.f("pk_idempotency_keys")),
    )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.create_index("ix_idempotency_created", ["created_at"], unique=False)

    op.create_table(
        "jobs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("key_id", sa.String(length=40), nullable=True),
        sa.Column("project_id", sa.String(length=40), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_model", sa.String(length=64), nullable=True),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("backend", sa.String(length=64), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("prompt_key", sa.String(length=64), nullable=True),
        sa.Column("seconds", sa.String(length=16), nullable=False),
        sa.Column("size", sa.String(length=16), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("input_path", sa.String(length=255), nullable=True),
        sa.Column("input_sha256", sa.String(length=64), nullable=True),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("quoted_mc", sa.BigInteger(), nullable=False),
        sa.Column("eta_seconds", sa.Float(), nullable=True),
        sa.Column("candidates", sa.JSON(), nullable=True),
        sa.Column("cost_mc", sa.BigInteger(), nullable=True),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=True),
        sa.Column("completed_at", sa.Float(), nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_expires_at", sa.Float(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("deleted_at", sa.Float(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_jobs_account_id_accounts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index("ix_jobs_account_id", ["account_id", "id"], unique=False)
        batch_op.create_index("ix_jobs_status_id", ["status", "id"], unique=False)
        batch_op.create_index("ix_jobs_regeneration", ["account_id", "model", "prompt_key"], unique=False)

    op.create_table(
        "projects",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("brief", sa.Text(), nullable=True),
        sa.Column("budget_mc", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("deleted_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_projects_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
    )
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.create_index("ix_projects_account", ["account_id", "id"], unique=False)

    op.create_table(
        "stripe_sessions",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("pack_id", sa.String(length=64), nullable=False),
        sa.Column("credits_mc", sa.BigInteger(), nullable=False),
        sa.Column("price_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("credited_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_stripe_sessions_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stripe_sessions")),
    )
    op.create_table(
        "transfers",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("debit_account_id", sa.String(length=40), nullable=False),
        sa.Column("credit_account_id", sa.String(length=40), nullable=False),
        sa.Column("amount_mc", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("pending_id", sa.String(length=40), nullable=True),
        sa.Column("captured_mc", sa.BigInteger(), nullable=True),
        sa.Column("job_id", sa.String(length=40), nullable=True),
        sa.Column("api_key_id", sa.String(length=40), nullable=True),
        sa.Column("project_id", sa.String(length=40), nullable=True),
        sa.Column("model", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("settled_at", sa.Float(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('grant', 'purchase', 'reserve', 'capture', 'void')",
            name=op.f("ck_transfers_kind_known"),
        ),
        sa.CheckConstraint(
            "state IN ('posted', 'pending', 'captured', 'voided')", name=op.f("ck_transfers_state_known")
        ),
        sa.CheckConstraint("amount_mc >= 0", name=op.f("ck_transfers_amount_nonnegative")),
        sa.CheckConstraint(
            "captured_mc IS NULL OR (captured_mc >= 0 AND captured_mc <= amount_mc)",
            name=op.f("ck_transfers_capture_within_reserve"),
        ),
        sa.ForeignKeyConstraint(
            ["credit_account_id"], ["accounts.id"], name=op.f("fk_transfers_credit_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["debit_account_id"], ["accounts.id"], name=op.f("fk_transfers_debit_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["pending_id"], ["transfers.id"], name=op.f("fk_transfers_pending_id_transfers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfers")),
        sa.UniqueConstraint("key", name=op.f("uq_transfers_key")),
    )
    with op.batch_alter_table("transfers", schema=None) as batch_op:
        batch_op.create_index("ix_transfers_debit_state", ["debit_account_id", "state"], unique=False)
        batch_op.create_index("ix_transfers_job", ["job_id"], unique=False)
        batch_op.create_index("ix_transfers_key_time", ["api_key_id", "created_at"], unique=False)
        batch_op.create_index("ix_transfers_project", ["project_id"], unique=False)

    op.create_table(
        "usage_records",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("api_key_id", sa.String(length=40), nullable=True),
        sa.Column("project_id", sa.String(length=40), nullable=True),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("backend", sa.String(length=64), nullable=False),
        sa.Column("video_seconds", sa.Float(), nullable=False),
        sa.Column("frames", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("device_seconds", sa.Float(), nullable=False),
        sa.Column("cost_mc", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_usage_records_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_records")),
        sa.UniqueConstraint("job_id", name=op.f("uq_usage_records_job_id")),
    )
    with op.batch_alter_table("usage_records", schema=None) as batch_op:
        batch_op.create_index("ix_usage_account_time", ["account_id", "created_at"], unique=False)

    op.create_table(
        "entries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("transfer_id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("amount_mc", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_entries_account_id_accounts")),
        sa.ForeignKeyConstraint(
            ["transfer_id"], ["transfers.id"], name=op.f("fk_entries_transfer_id_transfers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entries")),
    )
    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.create_index("ix_entries_account", ["account_id", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_entries_transfer_id"), ["transfer_id"], unique=False)

    op.create_table(
        "shots",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("image_path", sa.String(length=255), nullable=True),
        sa.Column("size", sa.String(length=16), nullable=True),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("deleted_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_shots_account_id_accounts")),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], name=op.f("fk_shots_project_id_projects")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shots")),
    )
    with op.batch_alter_table("shots", schema=None) as batch_op:
        batch_op.create_index("ix_shots_project", ["project_id", "position"], unique=False)

    op.create_table(
        "takes",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("shot_id", sa.String(length=40), nullable=False),
        sa.Column("job_id", sa.String(length=40), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("parent_take_id", sa.String(length=40), nullable=True),
        sa.Column("change", sa.Text(), nullable=True),
        sa.Column("is_winner", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name=op.f("fk_takes_job_id_jobs")),
        sa.ForeignKeyConstraint(["parent_take_id"], ["takes.id"], name=op.f("fk_takes_parent_take_id_takes")),
        sa.ForeignKeyConstraint(["shot_id"], ["shots.id"], name=op.f("fk_takes_shot_id_shots")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_takes")),
        sa.UniqueConstraint("job_id", name=op.f("uq_takes_job_id")),
    )
    with op.batch_alter_table("takes", schema=None) as batch_op:
        batch_op.create_index("ix_takes_shot", ["shot_id", "created_at"], unique=False)

    op.create_table(
        "cuts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("take_ids", sa.JSON(), nullable=False),
        sa.Column("size", sa.String(length=16), nullable=False),
        sa.Column("fps", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], name=op.f("fk_cuts_project_id_projects")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cuts")),
    )
    with op.batch_alter_table("cuts", schema=None) as batch_op:
        batch_op.create_index("ix_cuts_project", ["project_id", "created_at"], unique=False)

    op.create_table(
        "sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_sessions_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(["key_id"], ["api_keys.id"], name=op.f("fk_sessions_key_id_api_keys")),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_sessions")),
    )

    # The system accounts every ledger needs: the sources of granted and bought credits, and revenue.
    accounts = sa.table(
        "accounts",
        sa.column("id", sa.String),
        sa.column("name", sa.String),
        sa.column("kind", sa.String),
        sa.column("balance_mc", sa.BigInteger),
        sa.column("held_mc", sa.BigInteger),
        sa.column("created_at", sa.Float),
    )
    op.bulk_insert(
        accounts,
        [
            {
                "id": "sys_grants",
                "name": "system:grants",
                "kind": "system",
                "balance_mc": 0,
                "held_mc": 0,
                "created_at": 0.0,
            },
            {
                "id": "sys_stripe_funding",
                "name": "system:stripe_funding",
                "kind": "system",
                "balance_mc": 0,
                "held_mc": 0,
                "created_at": 0.0,
            },
            {
                "id": "sys_revenue",
                "name": "system:revenue",
                "kind": "system",
                "balance_mc": 0,
                "held_mc": 0,
                "created_at": 0.0,
            },
        ],
    )


def downgrade() -> None:
    for table in ("sessions", "cuts", "takes", "shots"):
        op.drop_table(table)
    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_entries_transfer_id"))
        batch_op.drop_index("ix_entries_account")

    op.drop_table("entries")
    with op.batch_alter_table("usage_records", schema=None) as batch_op:
        batch_op.drop_index("ix_usage_account_time")

    op.drop_table("usage_records")
    with op.batch_alter_table("transfers", schema=None) as batch_op:
        batch_op.drop_index("ix_transfers_project")
        batch_op.drop_index("ix_transfers_key_time")
        batch_op.drop_index("ix_transfers_job")
        batch_op.drop_index("ix_transfers_debit_state")

    op.drop_table("transfers")
    op.drop_table("stripe_sessions")
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_index("ix_projects_account")

    op.drop_table("projects")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_regeneration")
        batch_op.drop_index("ix_jobs_status_id")
        batch_op.drop_index("ix_jobs_account_id")

    op.drop_table("jobs")
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_idempotency_created")

    op.drop_table("idempotency_keys")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_account_id"))

    op.drop_table("api_keys")
    op.drop_table("stripe_events")
    op.drop_table("accounts")
