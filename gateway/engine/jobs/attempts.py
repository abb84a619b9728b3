"""Running one job on one backend: retries with back-off, a call timeout, output validation.

Errors keep their adapter-boundary class: ``TransientError`` (retry, then fall back), ``PermanentError``
(fail now, never fall back), ``Cancelled``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

from adapters import (
    Adapter,
    Artifact,
    Cancelled,
    GenerationRequest,
    JobCancel,
    JobFailed,
    ProgressCallback,
    TransientError,
    is_detached,
)
from local_models import GenerationParams
from local_models.video import probe

__all__ = ["AnyEvent", "CircuitOpen", "RetryPolicy", "run_on_backend", "validate_artifact"]


class CircuitOpen(TransientError):
    """The backend's breaker is open: do not retry it, fall back."""

    code = "backend_circuit_open"


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    base_seconds: float = 0.5
    max_seconds: float = 10.0
    timeout_seconds: float = 900.0


class AnyEvent:
    """Set when any of its events is set: the job's cancel, or this attempt's timeout."""

    def __init__(self, *events: threading.Event) -> None:
        self.events = events

    def is_set(self) -> bool:
        return any(e.is_set() for e in self.events)

    @property
    def detached(self) -> bool:
        """A timeout or a shutdown hands the job on; only a cancel of the job itself is not."""
        return any(is_detached(e) for e in self.events)


def validate_artifact(artifact: Artifact, params: GenerationParams) -> None:
    """A backend's output must be a decodable video of the size it was asked for."""
    path = artifact.video_path
    if not path.is_file() or path.stat().st_size == 0:
        raise TransientError("the backend returned no video", code="corrupt_output")
    try:
        info = probe(path)
    except ValueError:
        raise TransientError(
            "the backend returned a video that does not decode", code="corrupt_output"
        ) from None
    if (info.width, info.height) != (params.width, params.height):
        raise TransientError(
            f"the backend returned {info.width}x{info.height}, not {params.size}", code="corrupt_output"
        )


async def run_on_backend(
    adapter: Adapter,
    request: GenerationRequest,
    progress: ProgressCallback,
    cancel: threading.Event,
    executor: Executor,
    policy: RetryPolicy,
    *,
    deadline: float,
    allow: Callable[[], bool],
    on_outcome: Callable[[bool, float], None],
) -> tuple[Artifact, float]:
    """Run ``request`` on ``adapter``, retrying transient errors (exponential back-off with jitter, at most
    ``policy.attempts`` tries, never past ``deadline`` on the monotonic clock). Returns the artifact and
    the seconds the successful call took."""
    loop = asyncio.get_running_loop()
    retrying = AsyncRetrying(
        # A job the backend ran and failed is not tried there again (each try may be billed): fall back.
        retry=retry_if_exception(
            lambda e: isinstance(e, TransientError) and not isinstance(e, (CircuitOpen, JobFailed))
        ),
        stop=stop_after_attempt(policy.attempts) | stop_after_delay(max(0.0, deadline - time.monotonic())),
        wait=wait_random_exponential(multiplier=policy.base_seconds, max=policy.max_seconds),
        reraise=True,
    )
    result: Any = None
    async for attempt in retrying:
        with attempt:
            if cancel.is_set():
                raise Cancelled("generation was cancelled")
            if not allow():
                raise CircuitOpen(f"backend {adapter.name} is failing (circuit open)")
            timed_out = JobCancel()
            started = time.perf_counter()
            future = loop.run_in_executor(
                executor, adapter.generate, request, progress, AnyEvent(cancel, timed_out)
            )
            try:
                timeout = min(policy.timeout_seconds, max(0.1, deadline - time.monotonic()))
                artifact = await asyncio.wait_for(asyncio.shield(future), timeout)
                await asyncio.to_thread(validate_artifact, artifact, request.params)
            except TimeoutError:
                timed_out.detach()  # a cooperative backend stops at its next step
                future.add_done_callback(lambda f: f.cancelled() or f.exception())
                on_outcome(False, time.perf_counter() - started)
                raise TransientError(
                    f"backend {adapter.name} did not answer within {timeout:.0f} s", code="backend_timeout"
                ) from None
            except JobFailed:
                raise  # the backend answered properly: its health is not in question
            except TransientError:
                on_outcome(False, time.perf_counter() - started)
                raise
            seconds = time.perf_counter() - started
            on_outcome(True, seconds)
            result = (artifact, seconds)
    return result  # type: ignore[no-any-return]
