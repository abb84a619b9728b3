"""``/v1/account``: balance, held and available credits; the ledger; usage (JSON or CSV)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Annotated, Any, Literal

from anyio import to_thread
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict

import billing
from billing import credits
from gateway.api.contract import documented
from gateway.api.deps import app_state, principal
from gateway.api.edge import read_json_object
from gateway.api.objects import Account, LedgerPage, UsageReport
from gateway.api.schemas import parse_model
from gateway.engine.jobs.qc_gate import read_account_mode, set_account_mode
from gateway.engine.keys import Principal, key_budgets
from gateway.errors import BadRequest
from gateway.state import AppState

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["account"])
StateDep = Annotated[AppState, Depends(app_state)]
PrincipalDep = Annotated[Principal, Depends(principal)]


def _budget(limit_mc: int | None, spent_mc: int) -> dict[str, Any] | None:
    if limit_mc is None:
        return None
    return {
        "limit": credits(limit_mc),
        "committed": credits(spent_mc),
        "remaining": credits(limit_mc - spent_mc),
    }


def _account(state: AppState, who: Principal) -> dict[str, Any]:
    with state.db.read() as conn:
        acct = billing.account_summary(conn, who.account_id, api_key_id=who.key_id)
        bal = acct.balance
        key = key_budgets(conn, who.key_id)
        assert key is not None  # the caller's own key
        qc_mode = read_account_mode(conn, who.account_id, state.settings.qc_settlement)
    return {
        "object": "account",
        "id": acct.id,
        "name": acct.name,
        "balance": credits(bal.balance_mc),
        "held": credits(bal.held_mc),
        "available": credits(bal.available_mc),
        "qc_settlement": qc_mode,
        "key": {
            "id": who.key_id,
            "daily_budget": _budget(key.daily_mc, acct.key_daily_spent_mc),
            "monthly_budget": _budget(key.monthly_mc, acct.key_monthly_spent_mc),
        },
    }


@router.get("/account", **documented(returns=Account))
async def get_account(state: StateDep, who: PrincipalDep) -> dict[str, Any]:
    """Credits of the caller's account, and the calling key's budgets."""
    return await state.db.run_read(_account, state, who)


class AccountUpdate(BaseModel):
    """``PATCH /v1/account``: ``qc_settlement`` ``hard_defects`` (a take with a hard defect is
    re-rendered once, free, then refunded if it still has one) or ``off`` (every take is charged);
    null follows the gateway's default."""

    model_config = ConfigDict(extra="forbid", strict=True)

    qc_settlement: Literal["hard_defects", "off"] | None = None


@router.patch("/account", **documented(returns=Account, json_body=AccountUpdate, errors=(413,)))
async def update_account(request: Request, state: StateDep, who: PrincipalDep) -> dict[str, Any]:
    """Change the caller's account settings (only the fields sent)."""
    changes = parse_model(AccountUpdate, await read_json_object(request)).model_dump(exclude_unset=True)

    def write() -> dict[str, Any]:
        if "qc_settlement" in changes:
            with state.db.write() as conn:
                set_account_mode(conn, who.account_id, changes["qc_settlement"])
        return _account(state, who)

    return await to_thread.run_sync(write)


@router.get("/account/ledger", **documented(returns=LedgerPage))
async def get_ledger(
    state: StateDep,
    who: PrincipalDep,
    after: Annotated[int | None, Query(ge=0, le=2**31 - 1)] = None,  # entry ids are 32-bit integers
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    order: Literal["asc", "desc"] = "desc",
) -> dict[str, Any]:
    """Posted ledger entries of the caller's account (grants, purchases, charges), newest first."""

    def read() -> dict[str, Any]:
        with state.db.read() as conn:
            page = billing.statement(conn, who.account_id, after=after, limit=limit, order=order)
        data = [
            {
                "id": r.id,
                "object": "ledger.entry",
                "kind": r.kind,
                "amount": credits(r.amount_mc),
                "transfer_id": r.transfer_id,
                "video_id": r.job_id,
                "model": r.model,
                "reason": r.reason,
                "created_at": int(r.created_at),
            }
            for r in page.entries
        ]
        return {
            "object": "list",
            "data": data,
            "has_more": page.has_more,
            "last_id": data[-1]["id"] if data else None,
        }

    return await state.db.run_read(read)


_MAX_TIMESTAMP = 253402300799.0  # 9999-12-31T23:59:59Z


def _parse_time(value: str | None, name: str) -> float | None:
    if value is None:
        return None
    invalid = BadRequest(
        f"{name} must be a unix timestamp (seconds, 0 to {_MAX_TIMESTAMP:.0f}) or an ISO date",
        code="invalid_parameter",
        param=name,
    )
    try:
        if not value.isascii():  # float() reads other scripts' digits
            raise ValueError(value)
        stamp = float(value)
    except ValueError:
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            raise invalid from None
        stamp = (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).timestamp()
    if not 0 <= stamp <= _MAX_TIMESTAMP:  # also refuses nan and inf
        raise invalid
    return stamp


@router.get("/usage", **documented(returns=UsageReport, media={"text/csv": {"type": "string"}}))
async def get_usage(
    state: StateDep,
    who: PrincipalDep,
    group_by: Literal["day", "model", "key"] = "day",
    from_: Annotated[str | None, Query(alias="from")] = None,
    to: str | None = None,
    format: Literal["json", "csv"] = "json",
) -> dict[str, Any] | Response:
    """Usage per day (UTC), model or key: jobs, seconds of video, frames, device seconds, credits."""
    since, until = _parse_time(from_, "from"), _parse_time(to, "to")

    def read() -> list[dict[str, Any]]:
        with state.db.read() as conn:
            return billing.usage_report(conn, who.account_id, group_by=group_by, since=since, until=until)

    rows = await state.db.run_read(read)
    data = [
        {
            group_by: r[group_by],
            "jobs": r["jobs"],
            "video_seconds": round(r["video_seconds"], 4),
            "frames": r["frames"],
            "device_seconds": round(r["device_seconds"], 4),
            "cost": credits(r["cost_mc"]),
        }
        for r in rows
    ]
    if format == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(
            out, fieldnames=[group_by, "jobs", "video_seconds", "frames", "device_seconds", "cost"]
        )
        writer.writeheader()
        writer.writerows(data)
        return Response(
            out.getvalue(),
            media_type="text/csv",
            headers={"content-disposition": f'attachment; filename="usage-by-{group_by}.csv"'},
        )
    return {"object": "list", "group_by": group_by, "data": data}
