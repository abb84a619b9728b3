"""QC-gated settlement: an account's choice, a job's re-render, and the ``refund`` transfer kind; a
cut's continuity checks

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_OLD = "kind IN ('grant', 'purchase', 'reserve', 'capture', 'void')"
_NEW = "kind IN ('grant', 'purchase', 'reserve', 'capture', 'void', 'refund')"


def _kinds(old: str, new: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # Rebuilding ``transfers`` (batch mode) would drop a table that ``entries`` references while
        # foreign keys are on. Widening a CHECK changes no stored row, so SQLite's documented in-place
        # procedure applies: rewrite the table's SQL and bump the schema version
        # (https://www.sqlite.org/lang_altertable.html#otheralter).
        version = bind.exec_driver_sql("PRAGMA schema_version").scalar_one()
        bind.exec_driver_sql("PRAGMA writable_schema=ON")
        bind.exec_driver_sql(
            "UPDATE sqlite_master SET sql = replace(sql, ?, ?) WHERE type = 'table' AND name = 'transfers'",
            (old, new),
        )
        bind.exec_driver_sql(f"PRAGMA schema_version={int(version) + 1}")
        bind.exec_driver_sql("PRAGMA writable_schema=OFF")
    else:
        op.drop_constraint(op.f("ck_transfers_kind_known"), "transfers", type_="check")
        op.create_check_constraint(op.f("ck_transfers_kind_known"), "transfers", new)


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("qc_settlement", sa.String(length=16), nullable=True))
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rerender", sa.JSON(), nullable=True))
    with op.batch_alter_table("cuts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("qc", sa.JSON(), nullable=True))
    _kinds(_OLD, _NEW)


def downgrade() -> None:
    _kinds(_NEW, _OLD)
    with op.batch_alter_table("cuts", schema=None) as batch_op:
        batch_op.drop_column("qc")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("rerender")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("qc_settlement")
