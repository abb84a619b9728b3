"""ASGI middleware: a hard cap on request body size (413 before the body is buffered), security headers
on every response, and a guard against URLs no route could honestly answer."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodyLimitMiddleware", "SecurityHeadersMiddleware", "UrlGuardMiddleware", "security_headers"]


class _TooLarge(Exception):
    pass


async def _send_error(send: Send, status: int, code: str, message: str, *, close: bool = False) -> None:
    """The API's error object, sent from middleware (before any route or handler exists)."""
    body = json.dumps(
        {"error": {"code": code, "message": message, "param": None, "type": "invalid_request_error"}}
    ).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_body_bytes:
                await self._reject(send)
                return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._reject(send)

    async def _reject(self, send: Send) -> None:
        await _send_error(
            send, 413, "request_too_large", f"request body exceeds {self.max_body_bytes} bytes", close=True
        )


# The dashboard's pages load only their own script and stylesheet; progress bars set a width inline.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
    "img-src 'self' data:; media-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
# FastAPI's interactive docs load their script from a CDN and inline their setup: no CSP there.
_NO_CSP_PATHS = ("/docs", "/redoc")


def security_headers() -> dict[str, str]:
    """The headers :class:`SecurityHeadersMiddleware` adds, for responses made outside it."""
    return {
        **{name.decode(): value.decode() for name, value in SECURITY_HEADERS},
        "content-security-policy": CONTENT_SECURITY_POLICY,
    }


class SecurityHeadersMiddleware:
    """Every response says: no sniffing, no framing, no referrer, and (except the API docs) a strict CSP."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = not str(scope.get("path", "")).startswith(_NO_CSP_PATHS)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", ())}
                extra = [(n, v) for n, v in SECURITY_HEADERS if n not in names]
                if csp and b"content-security-policy" not in names:
                    extra.append((b"content-security-policy", CONTENT_SECURITY_POLICY.encode()))
                message = {**message, "headers": [*message.get("headers", ()), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)


class UrlGuardMiddleware:
    """A path or query with NUL characters or bytes that are not UTF-8 is refused before routing
    (such ids can never exist, and PostgreSQL cannot even compare against them)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not _clean_url(scope):
            await _send_error(send, 400, "invalid_url", "the URL contains NUL characters or invalid UTF-8")
            return
        await self.app(scope, receive, send)


def _clean_url(scope: Scope) -> bool:
    from urllib.parse import unquote_to_bytes

    path = str(scope.get("path", ""))
    # The server decodes the path leniently (invalid UTF-8 becomes U+FFFD); the raw bytes tell.
    raw_path: bytes = scope.get("raw_path") or b""
    query: bytes = scope.get("query_string", b"")
    if "\x00" in path or b"%00" in query or b"\x00" in query:
        return False
    try:
        path.encode("utf-8")
        unquote_to_bytes(raw_path).decode("utf-8")
        unquote_to_bytes(query.replace(b"+", b" ")).decode("utf-8")
    except UnicodeError:
        return False
    return True
