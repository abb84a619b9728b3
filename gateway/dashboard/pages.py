"""Dashboard pages (GET): sign-in, credits, jobs, projects and the A/B compare view, keys, usage."""

from __future__ import annotations

import csv
import io
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

import billing
from billing import credits
from gateway.api.schemas import video_object
from gateway.creative.projects import get_project_row, latest_cut, list_projects
from gateway.creative.shots import shot_object, shots_of, take_object, takes_of
from gateway.dashboard.charts import bar_chart
from gateway.dashboard.common import render, require_session, state_of
from gateway.dashboard.session import COOKIE, LOGIN_COOKIE, new_login_token, take_reveal
from gateway.engine.jobs.qc_gate import read_account_mode
from gateway.engine.keys import list_keys

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request) -> HTMLResponse:
    token = request.cookies.get(LOGIN_COOKIE) or new_login_token()
    response = render(request, "login.html", login_token=token)
    response.set_cookie(
        LOGIN_COOKIE, token, httponly=True, samesite="strict", secure=request.url.scheme == "https"
    )
    return response


@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> HTMLResponse:
    session = require_session(request)
    state = state_of(request)

    def read() -> dict[str, Any]:
        with state.db.read() as conn:
            bal = billing.get_balance(conn, session.principal.account_id)
            by_day = billing.usage_report(conn, session.principal.account_id, group_by="day")
            by_model = billing.usage_report(conn, session.principal.account_id, group_by="model")
            qc_mode = read_account_mode(conn, session.principal.account_id, state.settings.qc_settlement)
        return {
            "qc_settlement": qc_mode,
            "balance": credits(bal.balance_mc),
            "held": credits(bal.held_mc),
            "available": credits(bal.available_mc),
            "by_day": bar_chart([(r["day"], credits(r["cost_mc"])) for r in by_day[-14:]]),
            "by_model": bar_chart([(r["model"], credits(r["cost_mc"])) for r in by_model]),
        }

    data = await to_thread.run_sync(read)
    packs = [
        {"id": p.id, "credits": credits(p.credits_mc), "price": p.price_cents / 100, "currency": p.currency}
        for p in state.packs.values()
    ]
    return render(
        request,
        "home.html",
        session,
        page="credits",
        packs=packs,
        stripe_enabled=bool(state.stripe.secret_key),
        **data,
    )


@router.get("/jobs", response_class=HTMLResponse)
async def jobs_page(request: Request) -> HTMLResponse:
    session = require_session(request)
    state = state_of(request)
    rows, _ = await to_thread.run_sync(
        lambda: state.jobs.page(session.principal.account_id, after=None, limit=50, order="desc")
    )
    models = sorted({o.spec.id for o in state.offers})
    picked = request.query_params.get("model")
    return render(
        request,
        "jobs.html",
        session,
        page="jobs",
        videos=[video_object(r) for r in rows],
        models=models,
        picked=picked if picked in models else "auto",
    )


@router.get("/projects", response_class=HTMLResponse)
async def projects_page(request: Request) -> HTMLResponse:
    session = require_session(request)
    state = state_of(request)

    def read() -> list[dict[str, Any]]:
        with state.db.read() as conn:
            rows = list_projects(conn, session.principal.account_id)
            return [
                {
                    "id": r.id,
                    "name": r.name,
                    "brief": r.brief,
                    "budget": None if r.budget_mc is None else credits(r.budget_mc),
                    "committed": credits(billing.spent_mc(conn, project_id=r.id)),
                }
                for r in rows
            ]

    return render(request, "projects.html", session, page="projects", projects=await to_thread.run_sync(read))


@router.get("/projects/{project_id}", response_class=HTMLResponse)
async def project_page(project_id: str, request: Request) -> HTMLResponse:
    session = require_session(request)
    state = state_of(request)

    def read() -> dict[str, Any]:
        with state.db.read() as conn:
            project = get_project_row(conn, session.principal.account_id, project_id)
            rows = shots_of(conn, session.principal.account_id, project_id)
            shot_list = []
            for shot in rows:
                objs = [take_object(t, video_object(job)) for t, job in takes_of(conn, shot.id)]
                # The A/B view: completed, clean takes first; the cheaper ahead of the dearer.
                objs.sort(key=lambda t: (t["status"] != "completed", len(t["qc_flags"]), t["cost"] or 0))
                shot_list.append(shot_object(shot, objs))
            committed = credits(billing.spent_mc(conn, project_id=project_id))
            cut = latest_cut(conn, session.principal.account_id, project_id)
        # The cut's poster: its first take's thumbnail (an MP4 shows black until it plays).
        videos = {t["id"]: t["video"]["id"] for shot in shot_list for t in shot.get("takes") or []}
        poster = videos.get(cut.take_ids[0]) if cut is not None and cut.take_ids else None
        return {
            "project": project,
            "shots": shot_list,
            "committed": committed,
            "cut": cut,
            "cut_poster": poster,
        }

    data = await to_thread.run_sync(read)
    models = sorted({o.spec.id for o in state.offers})
    return render(request, "project.html", session, page="projects", models=models, **data)


@router.get("/keys", response_class=HTMLResponse)
async def keys_page(request: Request) -> HTMLResponse:
    session = require_session(request)
    state = state_of(request)

    def read() -> list[dict[str, Any]]:
        with state.db.read() as conn:
            return list_keys(conn, session.principal.account_id)

    # Shown once, from the session (never from the URL: it would land in history and proxy logs).
    new_key = await to_thread.run_sync(take_reveal, state.db, request.cookies.get(COOKIE))
    response = render(
        request, "keys.html", session, page="keys", keys=await to_thread.run_sync(read), new_key=new_key
    )
    response.headers["cache-control"] = "no-store"  # it may hold a secret, shown once
    return response


def _usage(state: Any, account_id: str, group_by: str) -> list[dict[str, Any]]:
    with state.db.read() as conn:
        rows = billing.usage_report(conn, account_id, group_by=group_by)
    return [
        {
            group_by: r[group_by],
            "jobs": r["jobs"],
            "video_seconds": round(r["video_seconds"], 3),
            "frames": r["frames"],
            "device_seconds": round(r["device_seconds"], 3),
            "cost": credits(r["cost_mc"]),
        }
        for r in rows
    ]


@router.get("/usage", response_class=HTMLResponse)
async def usage_page(request: Request) -> HTMLResponse:
    session = require_session(request)
    group_by = request.query_params.get("group_by", "day")
    group_by = group_by if group_by in billing.GROUPS else "day"
    rows = await to_thread.run_sync(_usage, state_of(request), session.principal.account_id, group_by)
    return render(request, "usage.html", session, page="usage", rows=rows, group_by=group_by)


@router.get("/usage.csv")
async def usage_csv(request: Request) -> Response:
    session = require_session(request)
    group_by = request.query_params.get("group_by", "day")
    group_by = group_by if group_by in billing.GROUPS else "day"
    rows = await to_thread.run_sync(_usage, state_of(request), session.principal.account_id, group_by)
    out = io.StringIO()
    writer = csv.DictWriter(
        out, fieldnames=[group_by, "jobs", "video_seconds", "frames", "device_seconds", "cost"]
    )
    writer.writeheader()
    writer.writerows(rows)
    return Response(
        out.getvalue(),
        media_type="text/csv",
        headers={"content-disposition": f'attachment; filename="usage-by-{group_by}.csv"'},
    )
