"""A webhook receiver (and file server) on loopback: records every request; can fail, hang or redirect."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str
    requests: list[Received] = field(default_factory=list)
    fail_first: int = 0  # answer 500 to this many POSTs first
    hang_seconds: float = 0.0  # sleep this long before answering
    hang_paths: tuple[str, ...] = ()  # only these paths hang (all, if empty)
    files: dict[str, tuple[int, dict[str, str], bytes]] = field(default_factory=dict)  # GET path -> answer
    lock: threading.Lock = field(default_factory=threading.Lock)

    def posts(self) -> list[Received]:
        with self.lock:
            return list(self.requests)

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.posts()) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.posts())} requests arrived; expected {count}")
            time.sleep(0.02)
        return self.posts()


@contextlib.contextmanager
def receiver() -> Iterator[Receiver]:
    state: dict[str, Any] = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            rec: Receiver = state["rec"]
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            if rec.hang_seconds and (not rec.hang_paths or self.path in rec.hang_paths):
                time.sleep(rec.hang_seconds)
            with rec.lock:
                rec.requests.append(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                fail = rec.fail_first > 0
                if fail:
                    rec.fail_first -= 1
            self.send_response(500 if fail else 200)
            self.send_header("content-length", "0")
            self.end_headers()

        def do_GET(self) -> None:
            rec: Receiver = state["rec"]
            status, headers, body = rec.files.get(self.path, (404, {}, b""))
            if rec.hang_seconds:
                time.sleep(rec.hang_seconds)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    rec = Receiver(f"http://127.0.0.1:{server.server_address[1]}")
    state["rec"] = rec
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()
