"""Run Alembic migrations programmatically (on start-up and from the CLI)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from gateway.engine.db.engine import Database

__all__ = ["upgrade"]

MIGRATIONS = Path(__file__).with_name("migrations")


def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the schema to ``revision``; safe to run from several processes at once."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    with db.write() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
