"""A fake OpenAI-compatible chat-completions server on a loopback port, for the prompt LLM engine's tests.

``reply`` decides each answer from the request body: a JSON object to send as the message content
(:func:`content`), or raw bytes with a status and a delay (:class:`Raw`)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Raw:
    body: bytes
    status: int = 200
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


def completion(text: str) -> Raw:
    """A chat completion whose first message says ``text``."""
    answer = {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
    }
    return Raw(json.dumps(answer).encode())


def content(obj: Any) -> Raw:
    """A chat completion whose message is ``obj`` as JSON."""
    return completion(json.dumps(obj))


def asked(body: dict[str, Any]) -> dict[str, Any]:
    """The JSON the engine put in its user message."""
    return dict(json.loads(body["messages"][-1]["content"]))


class FakeLlm:
    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.reply: Callable[[dict[str, Any]], Raw] = lambda body: content({})

    def handle(self, headers: dict[str, str], body: dict[str, Any]) -> Raw:
        self.requests.append((headers, body))
        return self.reply(body)


@contextlib.contextmanager
def fake_llm() -> Iterator[tuple[str, FakeLlm]]:
    """The fake at ``http://127.0.0.1:<port>/v1``."""
    fake = FakeLlm()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            if self.path != "/v1/chat/completions":
                answer = Raw(b'{"error": "not found"}', 404)
            else:
                answer = fake.handle({k.lower(): v for k, v in self.headers.items()}, body)
            time.sleep(answer.delay)
            try:
                self.send_response(answer.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer.body)))
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(answer.body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting, as it should

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", fake
    finally:
        server.shutdown()
        server.server_close()
