"""A create's history reads stay one index step each: an index for an account's last video on a
model, and the regeneration index's columns reordered so that no plan reads that last video through
it (and sorts the account's whole history on the model)

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_jobs_regeneration", table_name="jobs")
    op.create_index("ix_jobs_regeneration", "jobs", ["account_id", "prompt_key", "model"])
    op.create_index("ix_jobs_account_model", "jobs", ["account_id", "model", "id"])


def downgrade() -> None:
    op.drop_index("ix_jobs_account_model", table_name="jobs")
    op.drop_index("ix_jobs_regeneration", table_name="jobs")
    op.create_index("ix_jobs_regeneration", "jobs", ["account_id", "model", "prompt_key"])
