"""``/v1/projects``: a project groups jobs (and later shots and takes) under a name, brief and budget."""

from __future__ import annotations

from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

import billing
from billing import credits, millicredits
from gateway.api.contract import IDEMPOTENCY_KEY, REPLAYED, documented, replayable
from gateway.api.deps import app_state, principal
from gateway.api.edge import read_json_object
from gateway.api.objects import Deleted, Project, ProjectList
from gateway.api.schemas import decimal_text, parse_model
from gateway.creative.projects import delete_project as remove_project
from gateway.creative.projects import get_project_row, insert_project
from gateway.creative.projects import list_projects as projects_of
from gateway.engine import idempotency
from gateway.engine.keys import Principal
from gateway.state import AppState

__all__ = ["ProjectCreate", "router"]

router = APIRouter(prefix="/v1/projects", tags=["projects"])
StateDep = Annotated[AppState, Depends(app_state)]
PrincipalDep = Annotated[Principal, Depends(principal)]


MAX_BUDGET = 1_000_000_000  # credits: far beyond any real project, well inside a 64-bit millicredit count


class ProjectCreate(BaseModel):
    """``POST /v1/projects`` (also the dashboard's project form)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(min_length=1, max_length=200)
    brief: str | None = Field(default=None, max_length=20_000)
    budget: float | None = Field(default=None, ge=0, le=MAX_BUDGET, allow_inf_nan=False)

    @field_validator("name", mode="before")
    @classmethod
    def _strip(cls, value: Any) -> Any:
        return value.strip() if isinstance(value, str) else value

    _budget_text = field_validator("budget", mode="before")(decimal_text)

    @field_validator("brief", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return (value.strip() or None) if isinstance(value, str) else value

    def budget_mc(self) -> int | None:
        return None if self.budget is None else millicredits(self.budget)


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


@router.post(
    "",
    **documented(
        returns=Project,
        json_body=ProjectCreate,
        errors=(409, 413),
        request_headers=IDEMPOTENCY_KEY,
        headers=REPLAYED,
    ),
)
async def create_project(request: Request, state: StateDep, who: PrincipalDep) -> JSONResponse:
    req = parse_model(ProjectCreate, await read_json_object(request))

    idem = idempotency.from_request(request.headers, who.account_id, "projects.create", req.model_dump())

    def create(conn: Any) -> dict[str, Any]:
        row = insert_project(conn, who.account_id, name=req.name, brief=req.brief, budget_mc=req.budget_mc())
        return project_object(row, 0)

    body, replayed = await to_thread.run_sync(idempotency.run, state.db, idem, create)
    return replayable(body, replayed)


def _get(state: AppState, who: Principal, project_id: str) -> dict[str, Any]:
    with state.db.read() as conn:
        row = get_project_row(conn, who.account_id, project_id)
        return project_object(row, billing.spent_mc(conn, project_id=row.id))


@router.get("", **documented(returns=ProjectList))
async def list_projects(state: StateDep, who: PrincipalDep) -> dict[str, Any]:
    def read() -> dict[str, Any]:
        with state.db.read() as conn:
            rows = projects_of(conn, who.account_id)
            return {
                "object": "list",
                "data": [project_object(r, billing.spent_mc(conn, project_id=r.id)) for r in rows],
            }

    return await state.db.run_read(read)


@router.get("/{project_id}", **documented(returns=Project, errors=(404,)))
async def get_project(project_id: str, state: StateDep, who: PrincipalDep) -> dict[str, Any]:
    return await state.db.run_read(_get, state, who, project_id)


@router.delete("/{project_id}", **documented(returns=Deleted, errors=(404,)))
async def delete_project(project_id: str, state: StateDep, who: PrincipalDep) -> dict[str, Any]:

    def delete() -> None:
        with state.db.write() as conn:
            remove_project(conn, who.account_id, project_id)

    await to_thread.run_sync(delete)
    return {"id": project_id, "object": "project.deleted", "deleted": True}
