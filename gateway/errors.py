"""The one place errors become HTTP: every package's :class:`~local_models.errors.FramegateError` maps
by its ``kind`` to a status, and every error response is ``{"error": {"code", "message", "param", "type"}}``.

The web layer's own errors (a body too large, the wrong media type, too many requests) are declared here;
the engine's (``InvalidRequest``, ``NotFound``, ``Conflict``, ``Unauthorized``) are re-exported, with
``BadRequest`` the web's name for ``InvalidRequest``.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from gateway.engine.errors import Conflict, InvalidRequest, NotFound, Unauthorized
from gateway.middleware import security_headers
from local_models.errors import FramegateError, Kind, WeightsNotFound

__all__ = [
    "BadRequest",
    "Conflict",
    "Forbidden",
    "FramegateError",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "Unauthorized",
    "UnsupportedMediaType",
    "error_body",
    "http_status",
    "install_error_handlers",
]

log = logging.getLogger("framegate.errors")

BadRequest = InvalidRequest


class Forbidden(FramegateError):
    kind, code = "forbidden", "forbidden"


class PayloadTooLarge(FramegateError):
    kind, code = "too_large", "request_too_large"


class UnsupportedMediaType(FramegateError):
    kind, code = "unsupported_media", "unsupported_media_type"


class RateLimited(FramegateError):
    kind, code = "rate_limited", "rate_limited"


# kind -> (HTTP status, OpenAI's error ``type``)
_STATUS: dict[Kind, tuple[int, str]] = {
    "invalid": (400, "invalid_request_error"),
    "unauthorized": (401, "authentication_error"),
    "payment": (402, "billing_error"),
    "forbidden": (403, "invalid_request_error"),
    "not_found": (404, "invalid_request_error"),
    "conflict": (409, "invalid_request_error"),
    "gone": (410, "invalid_request_error"),
    "too_large": (413, "invalid_request_error"),
    "unsupported_media": (415, "invalid_request_error"),
    "rate_limited": (429, "rate_limit_error"),
    "unavailable": (503, "server_error"),
    "internal": (500, "server_error"),
}

# Codes a client sees in place of an internal one.
_PUBLIC_CODE: dict[type[FramegateError], str] = {WeightsNotFound: "model_unavailable"}


def _printable(text: str, limit: int = 2000) -> str:
    """Error text echoes what the client sent: keep it encodable (a lone surrogate in a field name
    becomes ``\\udc00``) and bounded."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= limit else text[:limit] + "..."


def http_status(exc: FramegateError) -> int:
    """The HTTP status of any package's error."""
    return _STATUS[exc.kind][0]


def error_body(code: str, message: str, param: str | None, kind: Kind) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": _printable(message),
            "param": None if param is None else _printable(param),
            "type": _STATUS[kind][1],
        }
    }


def _response(exc: FramegateError) -> JSONResponse:
    code = next((c for cls, c in _PUBLIC_CODE.items() if isinstance(exc, cls)), exc.code)
    headers = {}
    if exc.retry_after is not None:
        headers["retry-after"] = str(max(1, math.ceil(exc.retry_after)))
    if exc.kind == "unauthorized":
        headers["www-authenticate"] = "Bearer"  # RFC 9110: a 401 names its scheme
    return JSONResponse(
        error_body(code, exc.message, exc.param, exc.kind), status_code=http_status(exc), headers=headers
    )


def _validation_param(loc: tuple[Any, ...]) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or None


def install_error_handlers(app: FastAPI) -> None:
    """Register handlers so that every error, expected or not, has the same JSON shape."""

    async def handle_known(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, FramegateError)
        return _response(exc)

    async def handle_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {}
        param = _validation_param(tuple(first.get("loc", ())))
        msg = first.get("msg", "invalid request")
        return _response(BadRequest(f"{param}: {msg}" if param else msg, code="invalid_request", param=param))

    async def handle_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        codes = {
            400: "invalid_request",
            404: "not_found",
            405: "method_not_allowed",
            413: "request_too_large",
        }
        kinds: dict[int, Kind] = {404: "not_found", 413: "too_large"}
        body = error_body(
            codes.get(exc.status_code, "http_error"),
            str(exc.detail),
            None,
            kinds.get(exc.status_code, "invalid" if exc.status_code < 500 else "internal"),
        )
        return JSONResponse(body, status_code=exc.status_code)

    async def handle_disconnect(request: Request, exc: Exception) -> Response:
        # The client hung up while its body was being read: no one is left to answer, and it is not
        # a server error (it was logged as one, with a traceback per request, when wrk stopped).
        log.debug("client disconnected during %s %s", request.method, request.url.path)
        return Response(status_code=499)

    async def handle_database(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DBAPIError)
        if not exc.connection_invalidated:
            return await handle_unexpected(request, exc)
        # The database went away under this request (a restart, a failover, a terminated backend);
        # its transaction was rolled back, so the request can simply be sent again.
        log.warning("database connection lost during %s %s: %s", request.method, request.url.path, exc.orig)
        body = error_body(
            "database_unavailable", "the database connection was lost; retry the request", None, "unavailable"
        )
        return JSONResponse(body, status_code=503, headers={"Retry-After": "1"})

    async def handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        # Starlette answers this outside every middleware: add the security headers here.
        body = error_body("internal_error", "internal server error", None, "internal")
        return JSONResponse(body, status_code=500, headers=security_headers())

    app.add_exception_handler(FramegateError, handle_known)
    app.add_exception_handler(RequestValidationError, handle_validation)
    app.add_exception_handler(StarletteHTTPException, handle_http)
    app.add_exception_handler(ClientDisconnect, handle_disconnect)
    app.add_exception_handler(DBAPIError, handle_database)
    app.add_exception_handler(Exception, handle_unexpected)
