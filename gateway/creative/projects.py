"""Projects: a brief, a budget, the shots that belong to it and the cuts assembled from them."""

from __future__ import annotations

import secrets
import time
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from gateway.engine.db import cuts, projects
from gateway.engine.errors import NotFound
from gateway.engine.projects import find_project

__all__ = ["delete_project", "get_project_row", "insert_project", "latest_cut", "list_projects"]


def insert_project(
    conn: Connection, account_id: str, *, name: str, brief: str | None, budget_mc: int | None
) -> Row[Any]:
    """Insert a project for ``account_id``; the API and the dashboard both create through here."""
    return conn.execute(
        insert(projects)
        .returning(*projects.c)
        .values(
            id="proj_" + secrets.token_hex(10),
            account_id=account_id,
            name=name,
            brief=brief,
            budget_mc=budget_mc,
            created_at=time.time(),
        )
    ).one()


def get_project_row(conn: Connection, account_id: str, project_id: str) -> Row[Any]:
    """``account_id``'s live project; ``project_not_found`` otherwise."""
    row = find_project(conn, account_id, project_id)
    if row is None:
        raise NotFound(f"no project with id {project_id!r}", code="project_not_found", param="project_id")
    return row


def list_projects(conn: Connection, account_id: str) -> list[Row[Any]]:
    """``account_id``'s live projects, newest first."""
    return list(
        conn.execute(
            select(projects)
            .where(projects.c.account_id == account_id, projects.c.deleted_at.is_(None))
            .order_by(projects.c.created_at.desc())
        ).all()
    )


def delete_project(conn: Connection, account_id: str, project_id: str) -> None:
    """Delete ``account_id``'s project (``project_not_found`` otherwise); its videos stay."""
    get_project_row(conn, account_id, project_id)
    conn.execute(update(projects).where(projects.c.id == project_id).values(deleted_at=time.time()))


def latest_cut(conn: Connection, account_id: str, project_id: str) -> Row[Any] | None:
    """The project's most recent cut, if one was assembled (``project_not_found`` if not theirs)."""
    get_project_row(conn, account_id, project_id)
    return conn.execute(
        select(cuts).where(cuts.c.project_id == project_id).order_by(cuts.c.created_at.desc()).limit(1)
    ).one_or_none()
