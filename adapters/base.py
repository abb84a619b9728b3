"""The ``Adapter`` protocol: one interface over every way of running a generation."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from local_models.spec import GenerationParams, ModelSpec

__all__ = [
    "Adapter",
    "Artifact",
    "BackendHealth",
    "CancelEvent",
    "GenerationRequest",
    "JobCancel",
    "JobJournal",
    "MemoryJournal",
    "ProgressCallback",
    "is_detached",
]

ProgressCallback = Callable[[float], None]
"""Called with the fraction of the generation done, 0.0 to 1.0 (may be called from any thread)."""


class CancelEvent(Protocol):
    """What an adapter polls to learn the job was cancelled (``threading.Event`` fits)."""

    def is_set(self) -> bool: ...


class JobCancel(threading.Event):
    """A job's cancel token. ``set()``: the job is cancelled (a hosted provider is told to stop it).
    ``detach()``: this process stops following the job but the job goes on (shutdown, a lost lease, a
    call timeout), so a hosted provider's job is left running for whoever resumes it."""

    detached = False

    def detach(self) -> None:
        self.detached = True
        self.set()


def is_detached(cancel: CancelEvent) -> bool:
    """Whether ``cancel`` fired because the job is being handed on, not because it was cancelled."""
    return bool(getattr(cancel, "detached", False))


class JobJournal(Protocol):
    """Where an adapter records the backend's own job handle (a hosted provider's job id), durably,
    before it first polls: a retry or a restarted gateway resumes that job instead of submitting again."""

    def load(self) -> dict[str, Any] | None:
        """The handle recorded for this job, if any."""
        ...

    def save(self, handle: dict[str, Any] | None) -> None:
        """Record ``handle`` (``None`` forgets it: the backend's job ended and a retry submits anew)."""
        ...


class MemoryJournal:
    """A :class:`JobJournal` kept in memory (tests, and adapters called without a job row)."""

    def __init__(self, handle: dict[str, Any] | None = None) -> None:
        self.handle = handle
        self.saves = 0

    def load(self) -> dict[str, Any] | None:
        return self.handle

    def save(self, handle: dict[str, Any] | None) -> None:
        self.handle = handle
        self.saves += 1


@dataclass(frozen=True)
class GenerationRequest:
    """A fully resolved generation: the adapter runs exactly this."""

    job_id: str
    model: str
    prompt: str
    params: GenerationParams
    output_dir: Path
    image_path: Path | None = None
    journal: JobJournal = field(default_factory=MemoryJournal, compare=False)


@dataclass(frozen=True)
class Artifact:
    """A finished clip on local disk. Posters may be absent; the caller derives them from the MP4."""

    video_path: Path
    width: int
    height: int
    frames: int
    fps: float
    thumbnail_path: Path | None = None
    spritesheet_path: Path | None = None
    has_audio: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BackendHealth:
    """A backend's self-reported state (the router records observed health separately)."""

    ok: bool
    warm_models: Sequence[str] = ()
    detail: str = ""


@runtime_checkable
class Adapter(Protocol):
    """A backend that turns a :class:`GenerationRequest` into an :class:`Artifact`.

    ``generate`` is blocking (it runs on a worker thread, never on the event loop), reports
    progress through ``progress`` and stops soon after ``cancel`` is set by raising
    :class:`~adapters.errors.Cancelled`. Backend failures are raised as
    :class:`~adapters.errors.TransientError` or :class:`~adapters.errors.PermanentError`.
    """

    name: str

    def models(self) -> Sequence[ModelSpec]:
        """The models this backend serves, with their rules and prices."""
        ...

    def generate(
        self, request: GenerationRequest, progress: ProgressCallback, cancel: CancelEvent
    ) -> Artifact: ...

    def health(self) -> BackendHealth: ...

    def close(self) -> None: ...
