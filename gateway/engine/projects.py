"""Finding an account's project: the one ownership check the engine and the creative workflow share."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, select

from gateway.engine.db import projects

__all__ = ["find_project"]


def find_project(conn: Connection, account_id: str, project_id: str) -> Row[Any] | None:
    """``account_id``'s live project ``project_id``, or None (another account's project is not found)."""
    return conn.execute(
        select(projects).where(
            projects.c.id == project_id, projects.c.account_id == account_id, projects.c.deleted_at.is_(None)
        )
    ).one_or_none()
