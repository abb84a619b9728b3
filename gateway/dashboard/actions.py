"""Dashboard form posts. Each checks the CSRF token, then does what the API does (same services)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from anyio import to_thread
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

import billing
from gateway.api.account import AccountUpdate
from gateway.api.edge import clean_form_value
from gateway.api.projects import ProjectCreate
from gateway.api.schemas import VideoCreate, parse_model
from gateway.api.shots import ShotCreate, TakesCreate
from gateway.creative import studio
from gateway.creative.projects import insert_project
from gateway.creative.shots import ShotFields, create_shot, get_shot_row, set_winner
from gateway.dashboard.common import require_session, see_other, state_of, verify_csrf
from gateway.dashboard.session import (
    COOKIE,
    LOGIN_COOKIE,
    end_session,
    login_token_ok,
    start_session,
    stash_reveal,
)
from gateway.engine.ids import is_video_id
from gateway.engine.jobs.qc_gate import set_account_mode
from gateway.engine.keys import create_key, key_owner, revoke_key
from gateway.errors import BadRequest, FramegateError, NotFound

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _text(fields: dict[str, Any], name: str) -> str | None:
    value = fields.get(name)
    return value.strip() or None if isinstance(value, str) else None


async def _attempt(request: Request, back: str, work: Any) -> RedirectResponse:
    """Run a form action; API errors come back to the page as a readable message."""
    try:
        flash = await to_thread.run_sync(work)
    except FramegateError as exc:  # every package's errors: a readable message for the page
        return see_other(request=request, url=back, error=exc.message)
    return see_other(request=request, url=back, flash=flash)


@router.post("/login")
async def login(request: Request) -> RedirectResponse:
    form = await request.form()
    if not login_token_ok(request.cookies.get(LOGIN_COOKIE), form.get("csrf")):
        return see_other(
            request=request,
            url="/login",
            error="The sign-in form was stale or not sent by this dashboard; try again.",
        )
    key = form.get("api_key")
    token = start_session(state_of(request).db, key) if isinstance(key, str) and key.strip() else None
    if token is None:
        return see_other(request=request, url="/login", error="That API key is not valid (or was revoked).")
    response = see_other(request=request, url="/")
    response.set_cookie(
        COOKIE, token, httponly=True, samesite="lax", secure=request.url.scheme == "https", max_age=12 * 3600
    )
    response.delete_cookie(LOGIN_COOKIE)
    return response


@router.post("/logout")
async def logout(request: Request) -> RedirectResponse:
    session = require_session(request)
    await verify_csrf(request, session)
    end_session(state_of(request).db, request.cookies.get(COOKIE))
    response = see_other("/login?notice=signed_out")
    response.delete_cookie(COOKIE)
    return response


@router.post("/jobs")
async def quick_generate(request: Request) -> RedirectResponse:
    session = require_session(request)
    f = await verify_csrf(request, session)
    state = state_of(request)

    def work() -> tuple[str, str | None]:
        req = VideoCreate(prompt=_text(f, "prompt"), model=_text(f, "model"), size=_text(f, "size"))
        submitted = state.service.submit(session.principal, req.to_request(None))
        # The regeneration guard's warning goes on the page, where the creator will see it.
        warning = "; ".join(w["message"] for w in submitted.body.get("warnings", [])) or None
        return f"Queued {submitted.body['id']} on {submitted.body['model']}.", warning

    # The page comes back with the model that was picked still picked (the next take is usually
    # on the same model).
    model = _text(f, "model")
    known = model in {o.spec.id for o in state.offers}
    back = f"/jobs?{urlencode({'model': model})}" if known else "/jobs"
    try:
        flash, warning = await to_thread.run_sync(work)
    except FramegateError as exc:
        return see_other(request=request, url=back, error=exc.message)
    return see_other(request=request, url=back, flash=flash, warning=warning)


@router.post("/jobs/{video_id}/cancel")
async def cancel(video_id: str, request: Request) -> RedirectResponse:
    session = require_session(request)
    await verify_csrf(request, session)
    state = state_of(request)

    def work() -> str:
        if not is_video_id(video_id):
            raise NotFound(f"no video with id {video_id!r}", code="video_not_found", param="video_id")
        row = state.service.cancel(session.principal.account_id, video_id)  # checks the owner first
        if row.status == "failed":
            return f"Cancelled {video_id}; its credits are released."
        # Running: it stops at its next step, unless it finishes first (then it is charged as usual).
        return f"Cancelling {video_id}: it stops at its next step and its credits are released."

    return await _attempt(request, "/jobs", work)


@router.post("/projects")
async def new_project(request: Request) -> RedirectResponse:
    session = require_session(request)
    f = await verify_csrf(request, session)
    state = state_of(request)

    def work() -> str:
        if not _text(f, "name"):
            raise BadRequest("A project needs a name.", code="missing_parameter")
        # The API's body model: the same rules (and messages) for a form as for JSON.
        req = parse_model(
            ProjectCreate,
            {"name": f.get("name"), "brief": f.get("brief"), "budget": _text(f, "budget")},
            lax=True,
        )
        with state.db.write() as conn:
            insert_project(
                conn, session.principal.account_id, name=req.name, brief=req.brief, budget_mc=req.budget_mc()
            )
        return f"Created project {req.name}."

    return await _attempt(request, "/projects", work)


@router.post("/projects/{project_id}/shots")
async def new_shot(project_id: str, request: Request) -> RedirectResponse:
    session = require_session(request)
    f = await verify_csrf(request, session)
    state = state_of(request)
    back = f"/projects/{project_id}"

    def work() -> str:
        if not _text(f, "prompt"):
            raise BadRequest("A shot needs a prompt.", code="missing_prompt")
        fields = {name: _text(f, name) for name in ("prompt", "size", "seconds", "notes")}
        req = parse_model(ShotCreate, fields, lax=True)
        with state.db.write() as conn:
            row = create_shot(
                conn,
                session.principal.account_id,
                project_id,
                ShotFields(req.prompt, req.size, req.seconds, req.notes),
            )
        return f"Added shot {row.position}."

    return await _attempt(request, back, work)


@router.post("/shots/{shot_id}/takes")
async def render_takes(shot_id: str, request: Request) -> RedirectResponse:
    session = require_session(request)
    await verify_csrf(request, session)  # 403 for a stale or forged form, as every other action
    form = await request.form()  # the same parsed form (Starlette keeps it): the models are a list
    models = [clean_form_value("models", m) for m in form.getlist("models") if isinstance(m, str)]
    state = state_of(request)
    try:
        with state.db.read() as conn:
            shot = get_shot_row(conn, session.principal.account_id, shot_id)
    except NotFound:
        return see_other(request=request, url="/projects", error="No such shot.")
    back = f"/projects/{shot.project_id}"

    def work() -> str:
        if not models:
            raise BadRequest("Pick at least one model.", code="missing_models")
        req = parse_model(TakesCreate, {"models": models}, lax=True)  # the API's rules: 1 to 8 models
        studio.render_takes(
            state.service, state.artifacts, session.principal, shot_id, studio.TakeRequest(tuple(req.models))
        )
        return f"Rendering shot {shot.position} on {', '.join(models)}."

    return await _attempt(request, back, work)


@router.post("/takes/{take_id}/winner")
async def winner(take_id: str, request: Request) -> RedirectResponse:
    session = require_session(request)
    f = await verify_csrf(request, session)
    state = state_of(request)
    back = _text(f, "back") or "/projects"

    def work() -> str:
        with state.db.write() as conn:
            set_winner(conn, session.principal.account_id, take_id)
        return "Winner picked."

    return await _attempt(request, back if back.startswith("/projects") else "/projects", work)


@router.post("/projects/{project_id}/cut")
async def cut(project_id: str, request: Request) -> RedirectResponse:
    session = require_session(request)
    await verify_csrf(request, session)
    state = state_of(request)
    return await _attempt(
        request,
        f"/projects/{project_id}",
        lambda: (
            "Assembled the cut: "
            + str(
                studio.assemble_cut(
                    state.db, state.artifacts, session.principal.account_id, project_id
                ).seconds
            )
            + " s."
        ),
    )


@router.post("/keys")
async def new_key(request: Request) -> RedirectResponse:
    session = require_session(request)
    f = await verify_csrf(request, session)
    state = state_of(request)
    name = _text(f, "name")
    if name is not None and len(name) > 128:
        return see_other(request=request, url="/keys", error="A key's label is at most 128 characters.")
    with state.db.write() as conn:
        key = create_key(conn, session.principal.account_id, name)
    # Shown once, on the next page only, from the session: a secret in the URL lands in history and logs.
    stash_reveal(state.db, request.cookies.get(COOKIE), key.secret)
    return see_other(request=request, url="/keys", flash="Copy the new key now: it will not be shown again.")


@router.post("/keys/{key_id}/revoke")
async def revoke(key_id: str, request: Request) -> RedirectResponse:
    session = require_session(request)
    await verify_csrf(request, session)
    state = state_of(request)
    with state.db.write() as conn:
        if key_owner(conn, key_id) != session.principal.account_id:
            return see_other(request=request, url="/keys", error="No such key.")
        revoke_key(conn, key_id)
    return see_other(request=request, url="/keys", flash=f"Revoked {key_id}.")


@router.post("/account/qc")
async def qc_settlement(request: Request) -> RedirectResponse:
    """Turn the account's QC-gated settlement on or off (the API's ``PATCH /v1/account``)."""
    session = require_session(request)
    f = await verify_csrf(request, session)
    state = state_of(request)

    def work() -> str:
        update = parse_model(AccountUpdate, {"qc_settlement": _text(f, "qc_settlement") or ""})
        with state.db.write() as conn:
            set_account_mode(conn, session.principal.account_id, update.qc_settlement)
        if update.qc_settlement == "off":
            return "Every take is now charged, hard defects or not."
        return "Takes with a hard defect are now re-rendered once, free, then refunded if still defective."

    return await _attempt(request, "/", work)


@router.post("/checkout")
async def checkout(request: Request) -> RedirectResponse:
    session = require_session(request)
    f = await verify_csrf(request, session)
    state = state_of(request)
    base = state.settings.base_url()

    def work() -> str:
        stripe_session, pack = billing.create_checkout(
            state.stripe,
            state.packs,
            _text(f, "pack") or "",
            session.principal.account_id,
            success_url=f"{base}/?notice=checkout_success",
            cancel_url=f"{base}/?notice=checkout_cancelled",
        )
        with state.db.write() as conn:
            billing.record_session(conn, stripe_session["id"], session.principal.account_id, pack)
        return str(stripe_session["url"])

    try:
        url = await to_thread.run_sync(work)
    except billing.BillingError as exc:
        return see_other(request=request, url="/", error=exc.message)
    return RedirectResponse(url, status_code=303)
