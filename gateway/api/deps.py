"""Request dependencies: the app state and the authenticated principal."""

from __future__ import annotations

from fastapi import Request
from fastapi.routing import APIRoute

from gateway.engine.keys import Principal, hash_key, lookup, revocation_version
from gateway.errors import BadRequest, RateLimited, Unauthorized
from gateway.state import AppState

__all__ = ["app_state", "known_query_only", "principal", "refuse_unknown_query"]


async def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.fg
    return state


async def principal(request: Request) -> Principal:
    """The caller's account and key; 401 for a missing, unknown or revoked key."""
    state: AppState = request.app.state.fg
    secret = bearer_secret(request)
    key_hash = hash_key(secret)
    # One point read per request: the cache saves the key lookup, never a revocation.
    version = await state.db.run_read(revocation_version, state.db)
    found = state.keys.get(key_hash, version)
    if found is None:
        found = await state.db.run_read(lookup, state.db, secret)
        if found is None:
            raise Unauthorized("invalid or revoked API key", code="invalid_api_key")
        state.keys.put(key_hash, found, version)
    if state.limiter is not None:
        wait = await state.limiter.acquire(found.key_id)
        if wait > 0:
            raise RateLimited(
                f"too many requests for this key; try again in {wait:.1f} s",
                retry_after=wait,
            )
    return found


_KNOWN: dict[int, frozenset[str]] = {}


async def known_query_only(request: Request) -> None:
    """A query parameter the operation does not take is refused (``unknown_parameter``), as unknown
    body fields are: a typo (``limt=5``) must not be silently ignored."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not request.query_params:
        return
    known = _KNOWN.get(id(route))
    if known is None:
        names: set[str] = set()
        stack = [route.dependant]
        while stack:
            dependant = stack.pop()
            names.update(p.alias for p in dependant.query_params)
            stack.extend(dependant.dependencies)
        known = _KNOWN[id(route)] = frozenset(names)
    refuse_unknown_query(request, known)


def refuse_unknown_query(request: Request, known: frozenset[str]) -> None:
    """400 for a query parameter sent twice or not in ``known`` (what :func:`known_query_only` does
    for a route that is not a FastAPI one)."""
    sent = [name for name, _ in request.query_params.multi_items()]
    for name in sent:
        if sent.count(name) > 1:
            raise BadRequest(f"query parameter {name!r} is sent twice", code="invalid_parameter", param=name)
        if name not in known:
            raise BadRequest(f"unknown query parameter {name!r}", code="unknown_parameter", param=name)


def bearer_secret(request: Request) -> str:
    header = request.headers.get("authorization")
    if not header:
        raise Unauthorized("missing API key: send 'Authorization: Bearer <key>'", code="missing_api_key")
    scheme, _, secret = header.partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret:
        raise Unauthorized("the Authorization header must be 'Bearer <key>'", code="invalid_api_key")
    return secret
