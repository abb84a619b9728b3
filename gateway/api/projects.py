"""``/v1/projects``: a project groups jobs (and later shots and takes) under a name, brief and budget."""

from __future__ import annotations

import secrets
import time
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import insert, select, update

import billing
from billing import credits, millicredits

from .. import idempotency
from ..auth import Principal
from ..db import projects
from ..errors import BadRequest, NotFound
from ..state import AppState
from .deps import app_state, principal
from .schemas import parse_model

__all__ = ["router"]

router = APIRouter(prefix="/v1/projects", tags=["projects"])
StateDep = Annotated[AppState, Depends(app_state)]
PrincipalDep = Annotated[Principal, Depends(principal)]


class ProjectCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    brief: str | None = Field(default=None, max_length=20_000)
    budget: float | None = Field(default=None, ge=0, allow_inf_nan=False)


def project_object(row: Any, spent_mc: int) -> dict[str, Any]:
    return {
        "id": row.id,
        "object": "project",
        "name": row.name,
        "brief": row.brief,
        "budget": None if row.budget_mc is None else credits(row.budget_mc),
        "committed": credits(spent_mc),
        "created_at": int(row.created_at),
    }


@router.post("")
async def create_project(request: Request, state: StateDep, who: PrincipalDep) -> dict[str, Any]:
    try:
        raw = await request.json()
    except ValueError:
        raise BadRequest("the body must be a JSON object", code="invalid_json") from None
    req = parse_model(ProjectCreate, raw)

    idem = idempotency.from_request(request.headers, who.account_id, "projects.create", req.model_dump())

    def create(conn: Any) -> dict[str, Any]:
        row = conn.execute(
            insert(projects)
            .returning(*projects.c)
            .values(
                id="proj_" + secrets.token_hex(10),
                account_id=who.account_id,
                name=req.name.strip(),
                brief=req.brief,
                budget_mc=None if req.budget is None else millicredits(req.budget),
                created_at=time.time(),
            )
        ).one()
        return project_object(row, 0)

    body, _ = await to_thread.run_sync(idempotency.run, state.db, idem, create)
    return body


def _get(state: AppState, who: Principal, project_id: str) -> dict[str, Any]:
    with state.db.read() as conn:
        row = conn.execute(
            select(projects).where(
                projects.c.id == project_id,
                projects.c.account_id == who.account_id,
                projects.c.deleted_at.is_(None),
            )
        ).one_or_none()
        if row is None:
            raise NotFound(f"no project with id {project_id!r}", code="project_not_found", param="project_id")
        return project_object(row, billing.spent_mc(conn, project_id=row.id))


@router.get("")
async def list_projects(state: StateDep, who: PrincipalDep) -> dict[str, Any]:
    def read() -> dict[str, Any]:
        with state.db.read() as conn:
            rows = conn.execute(
                select(projects)
                .where(projects.c.account_id == who.account_id, projects.c.deleted_at.is_(None))
                .order_by(projects.c.created_at.desc())
            ).all()
            return {
                "object": "list",
                "data": [project_object(r, billing.spent_mc(conn, project_id=r.id)) for r in rows],
            }

    return await state.db.run_read(read)


@router.get("/{project_id}")
async def get_project(project_id: str, state: StateDep, who: PrincipalDep) -> dict[str, Any]:
    return await state.db.run_read(_get, state, who, project_id)


@router.delete("/{project_id}")
async def delete_project(project_id: str, state: StateDep, who: PrincipalDep) -> dict[str, Any]:
    await state.db.run_read(_get, state, who, project_id)

    def delete() -> None:
        with state.db.write() as conn:
            conn.execute(update(projects).where(projects.c.id == project_id).values(deleted_at=time.time()))

    await to_thread.run_sync(delete)
    return {"id": project_id, "object": "project.deleted", "deleted": True}
