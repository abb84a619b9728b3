"""``/v1/videos``: the OpenAI Videos API shape, plus cancel and Framegate's native fields."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any, Literal

from anyio import to_thread
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.routing import Match, Route
from starlette.types import Scope

from gateway.api.bodies import read_create_body
from gateway.api.contract import BINARY, IDEMPOTENCY_KEY, REPLAYED, documented, replayable
from gateway.api.deps import app_state, principal, refuse_unknown_query
from gateway.api.live import prefer_wait, wait_until_done
from gateway.api.objects import Deleted, Video, VideoBatch, VideoPage
from gateway.api.polling import etag_of, matches, poll_after_ms
from gateway.api.references import checked_webhook_url, reference_image
from gateway.api.schemas import VIDEO_FORM, VideoCreate, video_object
from gateway.engine.artifacts import VARIANTS
from gateway.engine.errors import Gone
from gateway.engine.idempotency import IdempotentRequest, check_key, request_hash
from gateway.engine.ids import is_video_id
from gateway.engine.jobs.states import COMPLETED, FAILED
from gateway.engine.keys import Principal
from gateway.errors import BadRequest, Conflict, NotFound
from gateway.state import AppState

__all__ = ["POLL_ROUTE", "router", "video_expired"]

router = APIRouter(prefix="/v1/videos", tags=["videos"])

StateDep = Annotated[AppState, Depends(app_state)]
PrincipalDep = Annotated[Principal, Depends(principal)]


PREFER_WAIT = (
    "`wait=N` (RFC 7240): answer once the job has ended or after N seconds (1 to the gateway's "
    "`wait_max_seconds`, 60 by default), whichever is first"
)
PREFERENCE_APPLIED = "`wait=N` when `Prefer: wait=N` was honoured"
POLL_HEADERS = {
    "ETag": "a weak validator of this version of the video object",
    "openai-poll-after-ms": "while the job is queued or running: when to ask again (absent once it ended)",
    "Cache-Control": "private, no-cache",
}


def _video_response(state: AppState, row: Any, if_none_match: str | None = None) -> Response:
    """The video object with its ``ETag`` and, while it runs, when to poll again; a ``304`` without
    a body when the caller already holds this version (``If-None-Match``)."""
    response = JSONResponse(video_object(row, state.links))
    etag = etag_of(bytes(response.body))
    headers = {"etag": etag, "cache-control": "private, no-cache"}
    if (wait := poll_after_ms(row, state.settings.poll_after_ms)) is not None:
        headers["openai-poll-after-ms"] = str(wait)
    if matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    response.headers.update(headers)
    return response


def video_expired(video_id: str, param: str = "video_id") -> Gone:
    """``410 video_expired``: the video's clips were deleted after the retention period."""
    return Gone(
        f"video {video_id}'s clips were deleted after the retention period",
        code="video_expired",
        param=param,
    )


def _not_found(video_id: str) -> NotFound:
    return NotFound(f"no video with id {video_id!r}", code="video_not_found", param="video_id")


async def _read(state: AppState, who: Principal, video_id: str) -> Any:
    return await state.db.run_read(state.jobs.get, who.account_id, video_id)


async def _load(state: AppState, who: Principal, video_id: str) -> Any:
    # Malformed ids (including path tricks) never reach a query or the filesystem.
    if not is_video_id(video_id):
        raise _not_found(video_id)
    row = await state.db.run_read(state.jobs.get, who.account_id, video_id)
    if row is None:
        raise _not_found(video_id)
    return row


@router.post(
    "",
    **documented(
        returns=(Video, VideoBatch),
        json_body=VideoCreate,
        form_body=VIDEO_FORM,
        errors=(402, 404, 409, 413, 415, 503),
        request_headers={
            **IDEMPOTENCY_KEY,
            "Prefer": PREFER_WAIT,
        },
        headers={
            "openai-poll-after-ms": "when to poll the video again (absent once it has ended)",
            **REPLAYED,
            "framegate-warning": "the codes of the body's `warnings`, comma-separated",
            "preference-applied": PREFERENCE_APPLIED,
        },
    ),
)
async def create_video(request: Request, state: StateDep, who: PrincipalDep) -> JSONResponse:
    """Queue a generation. JSON or multipart (``input_reference`` as a file part or data URL)."""
    body = await read_create_body(request, max_body_bytes=state.settings.max_body_bytes)
    wait = prefer_wait(request, state.settings.wait_max_seconds)
    webhook_url = await checked_webhook_url(state, body.fields.webhook_url)
    image = await reference_image(state, who, body)
    idem = None
    if (key := request.headers.get("idempotency-key")) is not None:
        fields = body.fields.model_dump(mode="json")
        fields["input_sha256"] = image.sha256 if image is not None else None
        idem = IdempotentRequest(who.account_id, check_key(key), "videos.create", request_hash(fields))
    job = replace(body.fields.to_request(image), webhook_url=webhook_url)
    submitted = await to_thread.run_sync(state.service.submit, who, job, idem)
    headers = {"openai-poll-after-ms": str(state.settings.poll_after_ms)}
    if submitted.body.get("warnings"):
        headers["framegate-warning"] = ", ".join(w["code"] for w in submitted.body["warnings"])
    body_out = submitted.body
    if wait is not None:
        headers["preference-applied"] = f"wait={wait:g}"
        if body_out.get("object") == "video" and (row := await _read(state, who, body_out["id"])) is not None:
            row = await wait_until_done(state, who.account_id, row, wait) or row  # deleted: as created
            body_out = {
                **video_object(row, state.links),
                **({"warnings": body_out["warnings"]} if "warnings" in body_out else {}),
            }
            if row.status in (COMPLETED, FAILED):
                headers.pop("openai-poll-after-ms")
    return replayable(body_out, submitted.replayed, headers)


@router.get("", **documented(returns=VideoPage))
async def list_videos(
    state: StateDep,
    who: PrincipalDep,
    after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    order: Literal["asc", "desc"] = "desc",
) -> dict[str, Any]:
    """The caller's videos, newest first by default; page with ``after=<last_id>``."""
    if after is not None and not is_video_id(after):
        raise BadRequest(f"after must be a video id, got {after!r}", code="invalid_cursor", param="after")
    rows, has_more = await state.db.run_read(
        lambda: state.jobs.page(who.account_id, after=after, limit=limit, order=order)
    )
    data = [video_object(row, state.links) for row in rows]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": has_more,
    }


@router.get(
    "/{video_id}",
    **documented(
        returns=Video,
        errors=(404,),
        empty={304: "not modified since the ETag sent in If-None-Match"},
        headers={**POLL_HEADERS, "preference-applied": PREFERENCE_APPLIED},
        request_headers={
            "If-None-Match": "the ETag of the version held: 304 while it is still current",
            "Prefer": PREFER_WAIT,
        },
    ),
)
async def retrieve_video(video_id: str, request: Request, state: StateDep, who: PrincipalDep) -> Response:
    """A video. Send ``If-None-Match`` with the last ``ETag`` to get ``304`` while nothing changed; poll
    again after ``openai-poll-after-ms`` (it shrinks as the job nears its end). ``Prefer: wait=N``
    answers once the job is completed or failed, or after N seconds (at most ``wait_max_seconds``)."""
    return await _retrieve(video_id, request, state, who)


async def _poll(request: Request) -> Response:
    """``GET /v1/videos/{video_id}`` as a plain Starlette endpoint, the same answer as
    :func:`retrieve_video` in the same order of checks (query, key, video). FastAPI's per-request
    routing through the included routers and its dependency solving were about 40% of a poll's time
    in the app (``bench/poll_cpu.py``), and the poll is what SDK clients send most."""
    refuse_unknown_query(request, frozenset())
    state: AppState = request.app.state.fg
    who = await principal(request)
    return await _retrieve(request.path_params["video_id"], request, state, who)


class _PlainRoute(Route):
    """A Starlette route that names itself in the scope, as FastAPI's do (metrics label by it), and
    answers only its own methods (Starlette adds HEAD to a GET route; FastAPI's routes do not)."""

    def __init__(self, path: str, endpoint: Any, *, methods: list[str]) -> None:
        super().__init__(path, endpoint, methods=methods)
        self.methods = set(methods)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match is not Match.NONE:
            child_scope["route"] = self
        return match, child_scope


# Registered ahead of every router (gateway.app); ``retrieve_video`` above documents the operation.
POLL_ROUTE = _PlainRoute("/v1/videos/{video_id}", _poll, methods=["GET"])


async def _retrieve(video_id: str, request: Request, state: AppState, who: Principal) -> Response:
    row = await _load(state, who, video_id)
    wait = prefer_wait(request, state.settings.wait_max_seconds)
    if wait is None:
        return _video_response(state, row, request.headers.get("if-none-match"))
    done = await wait_until_done(state, who.account_id, row, wait)
    if done is None:  # deleted while we waited
        raise _not_found(video_id)
    response = _video_response(state, done)
    response.headers["preference-applied"] = f"wait={wait:g}"
    return response


@router.post("/{video_id}/cancel", **documented(returns=Video, errors=(404, 409)))
async def cancel_video(video_id: str, state: StateDep, who: PrincipalDep) -> Response:
    """Cancel a queued or running job: it ends ``failed`` with ``error.code = "cancelled"``, refunded."""
    if not is_video_id(video_id):
        raise _not_found(video_id)
    row = await to_thread.run_sync(state.service.cancel, who.account_id, video_id)
    return _video_response(state, row)


@router.delete("/{video_id}", **documented(returns=Deleted, errors=(404,)))
async def delete_video(video_id: str, state: StateDep, who: PrincipalDep) -> dict[str, Any]:
    """Delete a video and its files; a running job is cancelled first (and refunded)."""
    if not is_video_id(video_id):
        raise _not_found(video_id)
    await to_thread.run_sync(state.service.delete, who.account_id, video_id)
    return {"id": video_id, "object": "video.deleted", "deleted": True}


@router.get(
    "/{video_id}/content",
    response_class=Response,
    **documented(media={"video/mp4": BINARY, "image/webp": BINARY, "image/jpeg": BINARY}, errors=(404, 409)),
)
async def download_content(
    video_id: str,
    state: StateDep,
    who: PrincipalDep,
    variant: str = "video",
) -> FileResponse:
    """The MP4 (``variant=video``), a WebP ``thumbnail`` or a JPEG ``spritesheet``."""
    if variant not in VARIANTS:
        raise BadRequest(
            f"variant must be one of {', '.join(VARIANTS)}", code="invalid_variant", param="variant"
        )
    row = await _load(state, who, video_id)
    if row.expired_at is not None:
        raise video_expired(video_id)
    if row.status != COMPLETED:
        raise Conflict(
            f"video {video_id} is {row.status}; content is available once it is completed",
            code="video_not_ready",
            param="video_id",
        )
    return await _file(state, video_id, variant)


async def _file(state: AppState, video_id: str, variant: str) -> FileResponse:
    path = await to_thread.run_sync(state.artifacts.local_path, video_id, variant)
    if path is None:
        raise NotFound(f"video {video_id} has no {variant}", code="content_not_found", param="variant")
    name, media_type = VARIANTS[variant]
    return FileResponse(
        path,
        media_type=media_type,
        filename=f"{video_id}{name[name.index('.') :]}",
        content_disposition_type="inline",
    )


@router.get(
    "/{video_id}/content/signed",
    response_class=Response,
    **documented(
        media={"video/mp4": BINARY, "image/webp": BINARY, "image/jpeg": BINARY},
        errors=(403, 404, 410),
        auth=False,
    ),
)
async def signed_content(
    video_id: str, state: StateDep, variant: str = "video", expires: int = 0, signature: str = ""
) -> FileResponse:
    """A clip through a signed link (the ``url`` of a completed video): no API key, valid until
    ``expires``. A wrong signature is ``403 invalid_signature``, a stale one ``403 link_expired``."""
    if variant not in VARIANTS:
        raise BadRequest(
            f"variant must be one of {', '.join(VARIANTS)}", code="invalid_variant", param="variant"
        )
    state.links.check(video_id, variant, expires, signature)
    row = await state.db.run_read(state.jobs.get_any, video_id) if is_video_id(video_id) else None
    if row is None or row.deleted_at is not None or row.status != COMPLETED:
        raise _not_found(video_id)
    if row.expired_at is not None:
        raise video_expired(video_id)
    return await _file(state, video_id, variant)
