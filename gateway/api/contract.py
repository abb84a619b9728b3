"""``/openapi.json`` that says what the API does: bodies (JSON and multipart, as the routes read them by
hand), the objects returned, the error object, and the statuses each operation actually answers.

Routes describe themselves with :func:`documented`, passed to their decorator; :func:`install_contract`
adds the models those descriptions name to the document's components and removes FastAPI's 422 (the
API answers every invalid request with a 400 and the error object).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from gateway.api.objects import ErrorResponse

__all__ = ["BINARY", "IDEMPOTENCY_KEY", "REPLAYED", "documented", "install_contract", "replayable"]

_REQUEST_MODELS: dict[str, type[BaseModel]] = {}
_RESPONSE_MODELS: dict[str, type[BaseModel]] = {ErrorResponse.__name__: ErrorResponse}

_REASONS = {
    400: "invalid request: `error.code` says which rule (e.g. `invalid_parameter`, `invalid_json`)",
    401: "missing, unknown or revoked API key",
    402: "not enough credits, or a budget would be exceeded",
    403: "a content link whose signature is wrong or has expired",
    404: "no such object for this account",
    409: "the object is not in a state that allows this",
    410: "the clip was deleted after the retention period (`video_expired`)",
    413: "the body (or an image or video in it) is too large",
    415: "unsupported content type",
    429: "rate limited: `retry-after` says when to try again",
    503: "a backend or service is not available",
}
BINARY = {"type": "string", "format": "binary"}
# The request header of every create that can be retried safely, and the mark of its replays.
IDEMPOTENCY_KEY = {
    "Idempotency-Key": "1-255 printable characters: a retry with the same key and body within 24 hours "
    "gets the first response again instead of acting (and charging) twice; the same key with another "
    "body is a 409 `idempotency_key_reused`",
}
REPLAYED = {"idempotent-replayed": "`true` when this is the stored response of an earlier request"}
SchemaLike = type[BaseModel] | dict[str, Any]


def _ref(model: SchemaLike, registry: dict[str, type[BaseModel]]) -> dict[str, Any]:
    if isinstance(model, dict):
        return model
    registry[model.__name__] = model
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _error_response(status: int) -> dict[str, Any]:
    return {
        "description": _REASONS[status],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
    }


def documented(
    *,
    returns: SchemaLike | tuple[SchemaLike, ...] | None = None,
    media: dict[str, dict[str, Any]] | None = None,
    json_body: SchemaLike | None = None,
    form_body: dict[str, Any] | None = None,
    body_required: bool = True,
    errors: Iterable[int] = (),
    auth: bool = True,
    also: dict[int, SchemaLike] | None = None,
    empty: dict[int, str] | None = None,
    headers: dict[str, str] | None = None,
    request_headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Keyword arguments for a route decorator that document the operation.

    ``returns``: the 200 JSON object (a tuple: one of several); ``media``: other 200 content types and
    their schemas; ``json_body`` / ``form_body``: the request body as JSON (a model) and as multipart
    (an object schema); ``errors``: the 4xx/5xx statuses beyond 400 (always possible) and, with
    ``auth``, 401 and 429; ``also``: other statuses with their own (non-error) body; ``empty``: statuses
    answered without a body (``304``), with what they mean; ``headers``: response headers of the 200
    and of those bodiless statuses, and ``request_headers``: optional request headers, each with what it
    means.
    """
    ok: dict[str, Any] = {"description": "OK", "content": {}}
    if returns is not None:
        options = returns if isinstance(returns, tuple) else (returns,)
        refs = [_ref(m, _RESPONSE_MODELS) for m in options]
        ok["content"]["application/json"] = {"schema": refs[0] if len(refs) == 1 else {"anyOf": refs}}
    for media_type, schema in (media or {}).items():
        ok["content"][media_type] = {"schema": schema}
    responses: dict[str, Any] = {"200": ok}
    statuses = {400, *errors, *((401, 429) if auth else ()), *((415,) if json_body is not None else ())}
    for status in sorted(statuses):
        responses[str(status)] = _error_response(status)
    for status, model in (also or {}).items():
        responses[str(status)] = {
            "description": "see the body",
            "content": {"application/json": {"schema": _ref(model, _RESPONSE_MODELS)}},
        }
    for status, meaning in (empty or {}).items():
        responses[str(status)] = {"description": meaning}
    if headers:
        described = {
            name: {"description": text, "schema": {"type": "string"}} for name, text in headers.items()
        }
        for status in ("200", *(str(s) for s in empty or {})):
            responses[status]["headers"] = described
    extra: dict[str, Any] = {"responses": responses}
    if request_headers:
        extra["parameters"] = [
            {
                "name": name,
                "in": "header",
                "required": False,
                "description": text,
                "schema": {"type": "string"},
            }
            for name, text in request_headers.items()
        ]
    content: dict[str, Any] = {}
    if json_body is not None:
        content["application/json"] = {"schema": _ref(json_body, _REQUEST_MODELS)}
    if form_body is not None:
        content["multipart/form-data"] = {"schema": form_body}
    if content:
        extra["requestBody"] = {"required": body_required, "content": content}
    if auth:
        extra["security"] = [{"bearerAuth": []}]
    return {"openapi_extra": extra, "response_model": None}


def _components(models: dict[str, type[BaseModel]], mode: Any) -> dict[str, Any]:
    if not models:
        return {}
    _, schema = models_json_schema(
        [(m, mode) for m in models.values()], ref_template="#/components/schemas/{model}"
    )
    return dict(schema.get("$defs", {}))


def install_contract(app: FastAPI) -> None:
    """Serve the documented contract at ``/openapi.json`` (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        doc = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        components = doc.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        schemas.update(_components(_REQUEST_MODELS, "validation"))
        schemas.update(_components(_RESPONSE_MODELS, "serialization"))
        components["securitySchemes"] = {
            "bearerAuth": {"type": "http", "scheme": "bearer", "description": "an API key (fg-...)"}
        }
        for operations in doc.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                responses.pop("422", None)  # never answered: invalid input is a 400
                responses.setdefault("400", _error_response(400))
                ok = responses.get("200", {})
                if ok.get("content", {}).get("application/json", {}).get("schema") == {}:
                    del ok["content"]["application/json"]  # a file or text answer, documented beside
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]


def replayable(body: Any, replayed: bool, headers: dict[str, str] | None = None) -> JSONResponse:
    """A create's answer: ``body`` with ``headers``, marked ``idempotent-replayed: true`` when it is the
    stored response of an earlier request with the same ``Idempotency-Key``."""
    marked = {**(headers or {}), **({"idempotent-replayed": "true"} if replayed else {})}
    return JSONResponse(body, headers=marked)
