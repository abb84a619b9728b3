"""The API's one error hierarchy and the one place every other package's errors map to HTTP.

Every error response is ``{"error": {"code", "message", "param", "type"}}``.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from adapters import AdapterError
from billing import (
    BillingError,
    BillingNotConfigured,
    BudgetExceeded,
    InsufficientCredits,
    PaymentProviderFailed,
)
from local_models import InvalidInput, LocalModelError, WeightsNotFound
from router import ModelNotFound, NoCandidate, RoutingError

from .middleware import security_headers

__all__ = [
    "ApiError",
    "BadRequest",
    "Conflict",
    "NotFound",
    "PayloadTooLarge",
    "PaymentRequired",
    "RateLimited",
    "ServiceUnavailable",
    "Unauthorized",
    "UnsupportedMediaType",
    "install_error_handlers",
    "to_api_error",
]

log = logging.getLogger("framegate.errors")


def _printable(text: str, limit: int = 2000) -> str:
    """Error text echoes what the client sent: keep it encodable (a lone surrogate in a field name
    becomes ``\\udc00``) and bounded."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= limit else text[:limit] + "..."


class ApiError(Exception):
    """An error the API reports: an HTTP status, a machine-readable code, a message, the param."""

    status = 500
    code = "internal_error"
    type = "server_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.param = param
        self.headers = headers

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "code": self.code,
                "message": _printable(self.message),
                "param": None if self.param is None else _printable(self.param),
                "type": self.type,
            }
        }


class BadRequest(ApiError):
    status, code, type = 400, "invalid_request", "invalid_request_error"


class Unauthorized(ApiError):
    status, code, type = 401, "invalid_api_key", "authentication_error"


class PaymentRequired(ApiError):
    status, code, type = 402, "insufficient_credits", "billing_error"


class NotFound(ApiError):
    status, code, type = 404, "not_found", "invalid_request_error"


class Conflict(ApiError):
    status, code, type = 409, "conflict", "invalid_request_error"


class PayloadTooLarge(ApiError):
    status, code, type = 413, "request_too_large", "invalid_request_error"


class UnsupportedMediaType(ApiError):
    status, code, type = 415, "unsupported_media_type", "invalid_request_error"


class RateLimited(ApiError):
    status, code, type = 429, "rate_limited", "rate_limit_error"


class ServiceUnavailable(ApiError):
    status, code, type = 503, "service_unavailable", "server_error"


def to_api_error(exc: Exception) -> ApiError:
    """Translate any package's error into the API's; the only such mapping in the code base."""
    if isinstance(exc, ApiError):
        return exc
    param = getattr(exc, "param", None)
    message = getattr(exc, "message", str(exc))
    code = getattr(exc, "code", None)
    if isinstance(exc, (InsufficientCredits, BudgetExceeded)):
        return PaymentRequired(message, code=code)
    if isinstance(exc, (BillingNotConfigured, PaymentProviderFailed)):
        return ServiceUnavailable(message, code=code)
    if isinstance(exc, BillingError):
        return BadRequest(message, code=code, param=param)
    if isinstance(exc, (ModelNotFound, NoCandidate, InvalidInput)):
        return BadRequest(message, code=code, param=param)
    if isinstance(exc, RoutingError):
        return BadRequest(message, code=code, param=param)
    if isinstance(exc, WeightsNotFound):
        return ServiceUnavailable(message, code="model_unavailable", param=param)
    if isinstance(exc, LocalModelError):
        return BadRequest(message, code=code, param=param)
    if isinstance(exc, AdapterError):
        return ServiceUnavailable(message, code=code)
    return ApiError("internal server error")


def _json(error: ApiError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


def _validation_param(loc: tuple[Any, ...]) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or None


def install_error_handlers(app: FastAPI) -> None:
    """Register handlers so that every error, expected or not, has the same JSON shape."""

    async def handle_known(request: Request, exc: Exception) -> JSONResponse:
        return _json(to_api_error(exc))

    async def handle_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {}
        param = _validation_param(tuple(first.get("loc", ())))
        msg = first.get("msg", "invalid request")
        return _json(BadRequest(f"{param}: {msg}" if param else msg, code="invalid_request", param=param))

    async def handle_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        codes = {
            400: ("invalid_request", BadRequest),
            404: ("not_found", NotFound),
            405: ("method_not_allowed", BadRequest),
            413: ("request_too_large", PayloadTooLarge),
        }
        code, cls = codes.get(exc.status_code, ("http_error", ApiError))
        error = cls(str(exc.detail), code=code)
        error.status = exc.status_code
        return _json(error)

    async def handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        # Starlette answers this outside every middleware: add the security headers here.
        error = ApiError("internal server error", headers=security_headers())
        return _json(error)

    for exc_type in (ApiError, BillingError, RoutingError, LocalModelError, AdapterError):
        app.add_exception_handler(exc_type, handle_known)
    app.add_exception_handler(RequestValidationError, handle_validation)
    app.add_exception_handler(StarletteHTTPException, handle_http)
    app.add_exception_handler(Exception, handle_unexpected)
