"""``/v1/webhook_endpoints`` (the SDK's ``client.webhooks``), ``/v1/webhook_event_types``, and
Framegate's ``/v1/webhook_deliveries`` (every attempt, re-send) and ``/v1/webhook_secret`` (the secret
that signs one-off ``webhook_url`` targets)."""

from __future__ import annotations

import secrets
import time
from typing import Annotated, Any

import httpx
from anyio import to_thread
from fastapi import APIRouter, Depends, Query, Request

from gateway.api.contract import documented
from gateway.api.deps import app_state, principal
from gateway.api.edge import read_json_object
from gateway.api.objects import Deleted
from gateway.api.schemas import parse_model
from gateway.api.webhook_objects import (
    Delivery,
    DeliveryList,
    EndpointCreate,
    EndpointUpdate,
    EventTypeList,
    RotateSecret,
    TestResult,
    WebhookEndpoint,
    WebhookEndpointList,
    WebhookSecret,
    WebhookTest,
)
from gateway.engine.keys import Principal
from gateway.engine.outbound import guarded_client
from gateway.engine.webhooks import EVENT_TYPES, Endpoint, outbox
from gateway.engine.webhooks import endpoints as ep
from gateway.engine.webhooks.delivery import post_signed
from gateway.errors import BadRequest
from gateway.state import AppState

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["webhooks"])
StateDep = Annotated[AppState, Depends(app_state)]
PrincipalDep = Annotated[Principal, Depends(principal)]
Limit = Annotated[int, Query(ge=1, le=100)]


def _ts(value: float | None) -> int | None:
    return None if value is None else int(value)


def endpoint_object(state: AppState, found: Endpoint) -> dict[str, Any]:
    row = found.row
    body = {
        "id": row.id,
        "object": "webhook_endpoint",
        "name": row.name,
        "url": row.url,
        "event_types": list(row.event_types),
        "created_at": int(row.created_at),
        "updated_at": int(row.updated_at),
        "signing_secret_hint": ep.hint_of(state.secret_key, row),
    }
    if found.signing_secret is not None:
        body["signing_secret"] = found.signing_secret
    return body


def _page(data: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": has_more,
    }


@router.post(
    "/webhook_endpoints", **documented(returns=WebhookEndpoint, json_body=EndpointCreate, errors=(413,))
)
async def create_endpoint(request: Request, state: StateDep, who: PrincipalDep) -> dict[str, Any]:
    """Register an endpoint. Its ``signing_secret`` is in this answer only (and after a rotation)."""
    req = parse_model(EndpointCreate, await read_json_object(request))
    ep.check_event_types(req.event_types)
    url = await state.outbound.accept(req.url, param="url")

    def create() -> Endpoint:
        with state.db.write() as conn:
            return ep.create_endpoint(
                conn, state.secret_key, who.account_id, name=req.name, url=url, event_types=req.event_types
            )

    return endpoint_object(state, await to_thread.run_sync(create))


@router.get("/webhook_endpoints", **documented(returns=WebhookEndpointList))
async def list_endpoints(
    state: StateDep, who: PrincipalDep, after: str | None = None, limit: Limit = 20
) -> dict[str, Any]:
    """The account's endpoints, newest first."""

    def read() -> tuple[list[Any], bool]:
        with state.db.read() as conn:
            return ep.list_endpoints(conn, who.account_id, after=after, limit=limit)

    rows, has_more = await state.db.run_read(read)
    return _page([endpoint_object(state, Endpoint(r)) for r in rows], has_more)


@router.get("/webhook_endpoints/{endpoint_id}", **documented(returns=WebhookEndpoint, errors=(404,)))
async def retrieve_endpoint(endpoint_id: str, state: StateDep, who: PrincipalDep) -> dict[str, Any]:
    def read() -> Any:
        with state.db.read() as conn:
            return ep.get_endpoint(conn, who.account_id, endpoint_id)

    return endpoint_object(state, Endpoint(await state.db.run_read(read)))


@router.post(
    "/webhook_endpoints/{endpoint_id}",
    **documented(returns=WebhookEndpoint, json_body=EndpointUpdate, errors=(404, 413)),
)
async def update_endpoint(
    endpoint_id: str, request: Request, state: StateDep, who: PrincipalDep
) -> dict[str, Any]:
    """Change the name, URL or event types (the set sent replaces the old one)."""
    req = parse_model(EndpointUpdate, await read_json_object(request, empty_ok=True))
    changes = req.model_dump(exclude_none=True)
    if "event_types" in changes:
        ep.check_event_types(changes["event_types"])
    if "url" in changes:
        await state.outbound.accept(changes["url"], param="url")

    def update() -> Any:
        with state.db.write() as conn:
            return ep.update_endpoint(conn, who.account_id, endpoint_id, changes)

    return endpoint_object(state, Endpoint(await to_thread.run_sync(update)))


@router.delete("/webhook_endpoints/{endpoint_id}", **documented(returns=Deleted, errors=(404,)))
async def delete_endpoint(endpoint_id: str, state: StateDep, who: PrincipalDep) -> dict[str, Any]:
    def delete() -> None:
        with state.db.write() as conn:
            ep.delete_endpoint(conn, who.account_id, endpoint_id)

    await to_thread.run_sync(delete)
    return {"id": endpoint_id, "object": "webhook_endpoint.deleted", "deleted": True}


@router.post(
    "/webhook_endpoints/{endpoint_id}/rotate_secret",
    **documented(returns=WebhookEndpoint, json_body=RotateSecret, body_required=False, errors=(404, 413)),
)
async def rotate_secret(
    endpoint_id: str, request: Request, state: StateDep, who: PrincipalDep
) -> dict[str, Any]:
    """A new signing secret (shown in this answer only); the old one stops signing now, or in 24 h
    with ``keep_old_secret_active_for_24_hours`` (meanwhile both sign every delivery)."""
    req = parse_model(RotateSecret, await read_json_object(request, empty_ok=True))

    def rotate() -> Endpoint:
        with state.db.write() as conn:
            return ep.rotate_endpoint(
                conn,
                state.secret_key,
                who.account_id,
                endpoint_id,
                keep_old=req.keep_old_secret_active_for_24_hours,
            )

    return endpoint_object(state, await to_thread.run_sync(rotate))


@router.post(
    "/webhook_endpoints/{endpoint_id}/test",
    **documented(returns=TestResult, json_body=WebhookTest, errors=(404, 413)),
)
async def test_endpoint(
    endpoint_id: str, request: Request, state: StateDep, who: PrincipalDep
) -> dict[str, Any]:
    """Send a signed sample event now and say what the receiver answered (``success``: a 2xx; not
    recorded, not retried). A receiver that cannot be reached within the webhook timeout is a
    ``400 webhook_unreachable``."""
    req = parse_model(WebhookTest, await read_json_object(request))
    if req.event_type not in EVENT_TYPES:
        raise BadRequest(
            f"unknown event type {req.event_type!r}; Framegate sends {', '.join(EVENT_TYPES)}",
            code="unsupported_event_type",
            param="event_type",
        )

    def read() -> Any:
        with state.db.read() as conn:
            return ep.get_endpoint(conn, who.account_id, endpoint_id)

    row = await state.db.run_read(read)
    event_id = f"evt_test_{secrets.token_hex(12)}"
    now = time.time()
    sample = {
        "id": f"video_{'0' * 28}",
        "object": "video",
        "status": req.event_type.split(".")[1],
        "test": True,
    }
    body = outbox.envelope(event_id, req.event_type, sample, now).encode()
    timeout = state.settings.webhook_timeout_seconds
    async with guarded_client(state.outbound, timeout=timeout) as client:
        try:
            status = await post_signed(
                client,
                row.url,
                event_id,
                body,
                ep.signing_secrets(state.secret_key, row, now),
                timeout=timeout,
            )
        except (httpx.HTTPError, TimeoutError) as exc:
            raise BadRequest(
                f"the endpoint could not be reached: {type(exc).__name__}: {exc}",
                code="webhook_unreachable",
                param="webhook_endpoint_id",
            ) from None
    return {
        "object": "webhook_endpoint.test",
        "event_type": req.event_type,
        "status_code": status,
        "success": 200 <= status < 300,
        "webhook_endpoint_id": row.id,
    }


@router.get("/webhook_event_types", **documented(returns=EventTypeList))
async def event_types(who: PrincipalDep) -> dict[str, Any]:
    """What an endpoint can subscribe to."""
    return {"object": "list", "data": list(EVENT_TYPES)}


def delivery_object(row: Any, attempts: list[Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": row.id,
        "object": "webhook_delivery",
        "event_id": row.event_id,
        "event_type": row.event_type,
        "video_id": row.subject_id,
        "endpoint_id": row.endpoint_id,
        "url": row.url,
        "status": row.status,
        "attempts": row.attempts,
        "next_attempt_at": int(row.next_attempt_at) if row.status == "pending" else None,
        "last_status_code": row.last_status_code,
        "last_error": row.last_error,
        "created_at": int(row.created_at),
        "delivered_at": _ts(row.delivered_at),
    }
    if attempts is not None:
        body["attempt_log"] = [
            {
                "attempt": a.attempt,
                "attempted_at": int(a.attempted_at),
                "status_code": a.status_code,
                "error": a.error,
                "duration_ms": a.duration_ms,
            }
            for a in attempts
        ]
    return body


async def _deliveries(
    state: AppState,
    who: Principal,
    *,
    endpoint_id: str | None,
    video_id: str | None,
    after: str | None,
    limit: int,
) -> dict[str, Any]:
    def read() -> tuple[list[Any], bool]:
        with state.db.read() as conn:
            if endpoint_id is not None:
                ep.get_endpoint(conn, who.account_id, endpoint_id)
            return outbox.list_deliveries(
                conn, who.account_id, endpoint_id=endpoint_id, video_id=video_id, after=after, limit=limit
            )

    rows, has_more = await state.db.run_read(read)
    return _page([delivery_object(r) for r in rows], has_more)


@router.get("/webhook_endpoints/{endpoint_id}/deliveries", **documented(returns=DeliveryList, errors=(404,)))
async def endpoint_deliveries(
    endpoint_id: str, state: StateDep, who: PrincipalDep, after: str | None = None, limit: Limit = 20
) -> dict[str, Any]:
    """The endpoint's deliveries, newest first: status, attempts, the last answer."""
    return await _deliveries(state, who, endpoint_id=endpoint_id, video_id=None, after=after, limit=limit)


@router.get("/webhook_deliveries", **documented(returns=DeliveryList, errors=(404,)))
async def all_deliveries(
    state: StateDep,
    who: PrincipalDep,
    endpoint_id: str | None = None,
    video_id: str | None = None,
    after: str | None = None,
    limit: Limit = 20,
) -> dict[str, Any]:
    """Every delivery of the account (endpoints' and one-off ``webhook_url`` ones), newest first."""
    return await _deliveries(state, who, endpoint_id=endpoint_id, video_id=video_id, after=after, limit=limit)


@router.get("/webhook_deliveries/{delivery_id}", **documented(returns=Delivery, errors=(404,)))
async def retrieve_delivery(delivery_id: str, state: StateDep, who: PrincipalDep) -> dict[str, Any]:
    """A delivery with every attempt (``attempt_log``)."""

    def read() -> tuple[Any, list[Any]]:
        with state.db.read() as conn:
            return outbox.get_delivery(conn, who.account_id, delivery_id)

    row, attempts = await state.db.run_read(read)
    return delivery_object(row, attempts)


@router.post("/webhook_deliveries/{delivery_id}/resend", **documented(returns=Delivery, errors=(404, 409)))
async def resend_delivery(delivery_id: str, state: StateDep, who: PrincipalDep) -> dict[str, Any]:
    """Send a delivered or failed delivery again now (same ``webhook-id``; a fresh retry schedule)."""

    def resend() -> tuple[Any, list[Any]]:
        with state.db.write() as conn:
            outbox.resend(conn, who.account_id, delivery_id)
            return outbox.get_delivery(conn, who.account_id, delivery_id)

    row, attempts = await to_thread.run_sync(resend)
    state.deliverer.wake()
    return delivery_object(row, attempts)


def _secret_object(state: AppState, row: Any) -> dict[str, Any]:
    return {
        "object": "webhook_secret",
        "signing_secret": state.secret_key.webhook_secret(row.nonce),
        "created_at": int(row.created_at),
        "updated_at": int(row.updated_at),
    }


@router.get("/webhook_secret", **documented(returns=WebhookSecret))
async def account_secret(state: StateDep, who: PrincipalDep) -> dict[str, Any]:
    """The secret that signs deliveries to one-off ``webhook_url`` targets (created on first use)."""

    def read() -> Any:
        with state.db.write() as conn:
            return ep.account_secret(conn, who.account_id)

    return _secret_object(state, await to_thread.run_sync(read))


@router.post(
    "/webhook_secret/rotate",
    **documented(returns=WebhookSecret, json_body=RotateSecret, body_required=False, errors=(413,)),
)
async def rotate_account_secret(request: Request, state: StateDep, who: PrincipalDep) -> dict[str, Any]:
    req = parse_model(RotateSecret, await read_json_object(request, empty_ok=True))

    def rotate() -> Any:
        with state.db.write() as conn:
            return ep.rotate_account_secret(
                conn, who.account_id, keep_old=req.keep_old_secret_active_for_24_hours
            )

    return _secret_object(state, await to_thread.run_sync(rotate))
