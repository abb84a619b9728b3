"""A small local fake of Stripe's HTTP API (Checkout Sessions), started by tests; never the internet."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl


class FakeStripe:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str], dict[str, str]]] = []
        self.sessions: dict[str, dict[str, Any]] = {}
        self.fail_next: int | None = None
        self.idempotent: dict[str, tuple[dict[str, str], Any]] = {}  # key -> (params, response)
        self.lock = threading.Lock()

    def handle(
        self, method: str, path: str, headers: dict[str, str], form: dict[str, str]
    ) -> tuple[int, Any]:
        self.requests.append((method, path, headers, form))
        key = headers.get("Idempotency-Key")
        if key is None:
            return self._answer(method, path, form)
        # Stripe's documented idempotency: keys of up to 255 characters; the same key with the same
        # parameters gets the first response again, with other parameters an idempotency_error.
        if len(key) > 255:
            return 400, {"error": {"type": "invalid_request_error", "message": "Idempotency key too long"}}
        with self.lock:
            if key in self.idempotent:
                params, response = self.idempotent[key]
                if params != form:
                    message = "Keys for idempotent requests can only be used with the same parameters"
                    return 400, {"error": {"type": "idempotency_error", "message": message}}
                return response
            response = self._answer(method, path, form)
            if response[0] == 200:
                self.idempotent[key] = (form, response)
            return response

    def _answer(self, method: str, path: str, form: dict[str, str]) -> tuple[int, Any]:
        if self.fail_next:
            status, self.fail_next = self.fail_next, None
            return status, {"error": {"type": "api_error", "message": "injected failure"}}
        if method == "POST" and path == "/v1/checkout/sessions":
            session_id = f"cs_test_{len(self.sessions) + 1:04d}"
            session = {
                "id": session_id,
                "object": "checkout.session",
                "mode": form.get("mode"),
                "url": f"https://checkout.stripe.test/c/pay/{session_id}",
                "client_reference_id": form.get("client_reference_id"),
                "payment_status": "unpaid",
                "status": "open",
                "metadata": {k[9:-1]: v for k, v in form.items() if k.startswith("metadata[")},
            }
            self.sessions[session_id] = session
            return 200, session
        return 404, {"error": {"type": "invalid_request_error", "message": f"no route {method} {path}"}}


@contextlib.contextmanager
def fake_stripe() -> Iterator[tuple[str, FakeStripe]]:
    fake = FakeStripe()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            status, payload = fake.handle(
                self.command, self.path.split("?")[0], dict(self.headers), dict(parse_qsl(body))
            )
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_POST = do_GET = _serve

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", fake
    finally:
        server.shutdown()
        server.server_close()
