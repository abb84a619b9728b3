"""What every fake provider shares: a scripted job lifecycle, rendered MP4s, a loopback server."""

from __future__ import annotations

import contextlib
import hashlib
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import uvicorn
from fastapi import FastAPI, Request

from local_models.video import encode_mp4

API_KEY = "prov-secret-4f7c2a9e1b"  # what the fakes accept; tests grep logs and bodies for it


@dataclass
class FakeJob:
    id: str
    prompt: str
    width: int
    height: int
    seconds: float
    has_image: bool
    body: dict[str, Any]
    polls: int = 0
    cancelled: bool = False

    @property
    def refused(self) -> bool:
        return "REFUSE" in self.prompt

    @property
    def fails(self) -> bool:
        return "FAILJOB" in self.prompt or "ECHOKEY" in self.prompt


@dataclass
class Script:
    """How a fake behaves. Prompts steer single jobs: ``REFUSE`` (a content refusal), ``FAILJOB`` (the
    job fails), ``ECHOKEY`` (it fails quoting the request's key, where the fake does), ``HANG`` (never
    finishes)."""

    queue_polls: int = 1  # status polls answered "queued"
    run_polls: int = 2  # then this many "running"
    fps: int = 8
    submit_errors: list[tuple[int, dict[str, str]]] = field(default_factory=list)  # answered first
    status_down: bool = False  # every status poll answers 503 (the provider's state is unknown)
    short_seconds: float | None = None  # deliver clips of this length instead of the asked one
    jobs: dict[str, FakeJob] = field(default_factory=dict)
    submits: int = 0
    cancels: list[str] = field(default_factory=list)
    polls: int = 0
    seen: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)  # method, path, headers
    lock: threading.Lock = field(default_factory=threading.Lock)
    files: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="fake-provider-")))

    def record(self, request: Request) -> None:
        with self.lock:
            self.seen.append(
                (request.method, request.url.path, {k.lower(): v for k, v in request.headers.items()})
            )

    def next_submit_error(self) -> tuple[int, dict[str, str]] | None:
        with self.lock:
            self.submits += 1
            return self.submit_errors.pop(0) if self.submit_errors else None

    def new_job(
        self, prompt: str, size: tuple[int, int], seconds: float, has_image: bool, body: Any
    ) -> FakeJob:
        job = FakeJob(uuid.uuid4().hex[:16], prompt, size[0], size[1], seconds, has_image, body)
        with self.lock:
            self.jobs[job.id] = job
        return job

    def advance(self, job: FakeJob) -> str:
        """One status poll: ``queued``, ``running``, ``done``, ``failed``, ``refused`` or ``cancelled``."""
        with self.lock:
            self.polls += 1
            job.polls += 1
        if job.cancelled:
            return "cancelled"
        if job.polls <= self.queue_polls:
            return "queued"
        if job.polls <= self.queue_polls + self.run_polls or "HANG" in job.prompt:
            return "running"
        return "refused" if job.refused else "failed" if job.fails else "done"

    def progress(self, job: FakeJob) -> int:
        return min(99, int(100 * max(0, job.polls - self.queue_polls) / max(1, self.run_polls + 1)))

    def video(self, job: FakeJob) -> Path:
        """The job's clip: a square in the prompt's colour moving right, at the asked size."""
        path = self.files / f"{job.id}.mp4"
        if not path.exists():
            seconds = self.short_seconds or job.seconds
            frames = np.zeros((max(1, round(seconds * self.fps)), job.height, job.width, 3), dtype=np.uint8)
            colour = np.frombuffer(hashlib.sha256(job.prompt.encode()).digest()[:3], dtype=np.uint8)
            side = max(2, min(job.width, job.height) // 3)
            for t in range(len(frames)):
                x = int((job.width - side) * t / max(1, len(frames) - 1))
                frames[t, (job.height - side) // 2 : (job.height + side) // 2, x : x + side] = colour
            encode_mp4(frames, self.fps, path)
        return path


def size_from(aspect: str, resolution: str) -> tuple[int, int]:
    """``("16:9", "72p")`` -> ``(128, 72)``: how providers that take aspect and resolution pick a size."""
    a, b = (int(x) for x in aspect.split(":"))
    short = int(resolution.rstrip("p"))
    return (round(short * a / b), short) if a >= b else (short, round(short * b / a))


@contextlib.contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """``app`` on a free loopback port; yields its base URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the fake provider did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
