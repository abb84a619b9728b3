"""``HostedAdapter``: a video model at a hosted provider behind the ``Adapter`` protocol.

The provider modules (``openai_videos``, ``fal``, ``replicate``, ``veo``) only say how their API
submits, reports status and cancels; this module does what is the same for all of them:

- **submit once**: the provider's job handle is recorded in the job's journal (the job row) before
  the first poll, so a retry, or a gateway restarted mid-poll, resumes that job instead of paying for
  a second one; a 429 at submit is retried after the provider's ``retry-after`` (when short);
- **follow**: poll at the provider's pace, report progress (the provider's own, else elapsed time over
  the model's expected latency), cancel at the provider when the job is cancelled;
- **a poll failure is not a job failure**: while the provider cannot be reached its state is unknown
  and it may still be working (and billing), so polling goes on with back-off; only after
  ``unknown_after_seconds`` without an answer does the job fail with ``provider_state_unknown``;
- **download** the result into the job's scratch directory, so content, QC, takes and the cut treat
  a hosted clip like a local one.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import httpx

from local_models import ModelSpec

from .base import Artifact, BackendHealth, CancelEvent, GenerationRequest, ProgressCallback, is_detached
from .errors import AdapterError, Cancelled, JobFailed, PermanentError, TransientError
from .hosted_http import ProviderHttp, RateLimited
from .hosted_models import HostedModel, check_options, models_of

__all__ = ["HostedAdapter", "Provider", "ProviderStatus"]

State = Literal["queued", "running", "succeeded", "failed", "canceled"]


@dataclass(frozen=True)
class ProviderStatus:
    """A provider job's state, in Framegate's words."""

    state: State
    progress: float | None = None  # 0-1, when the provider says
    result_url: str | None = None  # when succeeded
    error: AdapterError | None = None  # when failed, already classified
    poll_after: float | None = None  # the provider's hint, in seconds


class Provider(Protocol):
    """One hosted API's request and response shapes."""

    kind: str

    @staticmethod
    def read_error(response: httpx.Response) -> tuple[str, bool]:
        """The provider's error body -> (a short message, whether it is a content refusal)."""
        ...

    def auth_headers(self, api_key: str) -> dict[str, str]: ...

    def submit(self, http: ProviderHttp, model: HostedModel, request: GenerationRequest) -> dict[str, Any]:
        """Start the job; the handle (ids, URLs) that ``status`` and ``cancel`` need."""
        ...

    def status(self, http: ProviderHttp, model: HostedModel, handle: Mapping[str, Any]) -> ProviderStatus: ...

    def cancel(self, http: ProviderHttp, model: HostedModel, handle: Mapping[str, Any]) -> None:
        """Ask the provider to stop (a provider without cancel does nothing)."""
        ...

    def webhook_job(self, body: Any) -> str | None:
        """The provider job a webhook delivery is about (None: the provider sends none we accept)."""
        ...


class HostedAdapter:
    """A hosted provider's models, run through ``provider``'s API. Thread-safe: each ``generate``
    call is one job."""

    def __init__(
        self,
        name: str,
        provider: Provider,
        *,
        url: str,
        api_key: str,
        models: Sequence[Mapping[str, Any]],
        concurrency: int = 4,
        poll_seconds: float = 2.0,
        max_poll_seconds: float = 30.0,
        unknown_after_seconds: float = 600.0,
        max_retry_after_seconds: float = 30.0,
        timeout: float = 30.0,
        download_timeout_seconds: float = 600.0,
        webhook_secret: str | None = None,
        url_check: Callable[[str], str | None] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        check_options(
            url=url,
            concurrency=concurrency,
            poll_seconds=poll_seconds,
            max_poll_seconds=max_poll_seconds,
            unknown_after_seconds=unknown_after_seconds,
            timeout=timeout,
            download_timeout_seconds=download_timeout_seconds,
            max_retry_after_seconds=max_retry_after_seconds,
            webhook_secret=webhook_secret,
        )
        self.name = name
        # A provider's signed webhook (verified by the web layer) only wakes the poll loop early: the
        # state is always read from the provider's API, so a lost webhook costs a poll interval.
        self.webhook_secret = webhook_secret
        self._wakes: dict[str, threading.Event] = {}
        self._wakes_lock = threading.Lock()
        self.provider = provider
        self.base_url = url
        self.concurrency = concurrency
        self._models = models_of(models, provider.kind, name)
        self.download_timeout_seconds = download_timeout_seconds
        self._http = ProviderHttp(
            name,
            url,
            provider.auth_headers(api_key),
            provider.read_error,
            timeout=timeout,
            url_check=url_check,
            transport=transport,
        )
        self.poll_seconds, self.max_poll_seconds = poll_seconds, max_poll_seconds
        self.unknown_after_seconds = unknown_after_seconds
        self.max_retry_after_seconds = max_retry_after_seconds
        self.last_error: str | None = None  # the last error code seen (``framegate providers``)
        self.last_ok_at: float | None = None

    def models(self) -> Sequence[ModelSpec]:
        return [m.spec for m in self._models.values()]

    def hosted_models(self) -> Sequence[HostedModel]:
        return list(self._models.values())

    def health(self) -> BackendHealth:
        # No network here: the fleet asks on every routing snapshot. Nothing loads: every model is warm.
        return BackendHealth(ok=True, warm_models=list(self._models), detail=self.last_error or "")

    def close(self) -> None:
        self._http.close()

    def nudge(self, body: Any) -> bool:
        """A verified webhook about a provider job: poll it now. True if this process follows it."""
        job = self.provider.webhook_job(body)
        with self._wakes_lock:
            wake = self._wakes.get(job) if job else None
        if wake is not None:
            wake.set()
        return wake is not None

    def generate(
        self, request: GenerationRequest, progress: ProgressCallback, cancel: CancelEvent
    ) -> Artifact:
        model = self._models.get(request.model)
        if model is None:
            raise PermanentError(f"{self.name} does not serve {request.model!r}", code="model_unavailable")
        try:
            handle = request.journal.load()
            if not handle or handle.get("backend") != self.name or handle.get("model") != model.id:
                handle = {"backend": self.name, "model": model.id, **self._submit(model, request, cancel)}
                request.journal.save(handle)
            with self._woken_by_webhooks(str(handle.get("id"))) as wake:
                status = self._poll(model, handle, request, progress, cancel, wake)
            assert status.result_url is not None
            path = request.output_dir / "video.mp4"
            self._http.download(
                status.result_url, path, cancel, deadline_seconds=self.download_timeout_seconds
            )
        except AdapterError as exc:
            if not isinstance(exc, Cancelled):
                self.last_error = exc.code
            # Whatever the provider said (an echo of our request included) goes to users: never the key.
            # Redacted before it is shortened: a key cut in half by a limit would no longer match.
            exc.message = self._http.redact(exc.message)[:500]
            exc.args = (exc.message,)
            raise
        self.last_ok_at, self.last_error = time.time(), None
        progress(1.0)
        p = request.params
        frames, fps = _frames_of(path, p.fps)
        return Artifact(
            video_path=path,
            width=p.width,
            height=p.height,
            frames=frames or p.frames,
            fps=fps or float(p.fps),
            has_audio=p.audio,
            metadata={"backend": self.name, "provider": self.provider.kind, "provider_job": handle.get("id")},
        )

    def _submit(self, model: HostedModel, request: GenerationRequest, cancel: CancelEvent) -> dict[str, Any]:
        """Submit, retrying a 429 after the provider's ``retry-after`` while it is short; a long or
        repeated 429 is a transient failure (the router falls back)."""
        for attempt in range(3):
            try:
                with _malformed(self.name, "provider_bad_response", permanent=True):
                    handle = self.provider.submit(self._http, model, request)
                if not isinstance(handle.get("id"), str) or not handle["id"]:
                    raise PermanentError(
                        f"{self.name}: no job id in its answer", code="provider_bad_response"
                    )
                return handle
            except RateLimited as exc:
                wait = exc.retry_after if exc.retry_after is not None else 2.0**attempt
                if attempt == 2 or wait > self.max_retry_after_seconds:
                    raise
                _sleep(wait, cancel)
        raise AssertionError("unreachable")

    @contextlib.contextmanager
    def _woken_by_webhooks(self, job: str) -> Iterator[threading.Event]:
        """An event a verified provider webhook about ``job`` sets (``nudge``), while it is followed."""
        wake = threading.Event()
        with self._wakes_lock:
            self._wakes[job] = wake
        try:
            yield wake
        finally:
            with self._wakes_lock:
                self._wakes.pop(job, None)

    def _poll(
        self,
        model: HostedModel,
        handle: Mapping[str, Any],
        request: GenerationRequest,
        progress: ProgressCallback,
        cancel: CancelEvent,
        wake: threading.Event,
    ) -> ProviderStatus:
        started = time.monotonic()
        per_frame: Any = model.spec.extras.get("seconds_per_frame_step", 1.0)
        expected = max(1.0, float(per_frame) * request.params.frames)
        unknown_since: float | None = None
        wait = self.poll_seconds
        while True:
            if cancel.is_set():
                if is_detached(cancel):  # handed on: the provider's job goes on, and is resumed
                    raise Cancelled("this gateway stopped following the job")
                with contextlib.suppress(Exception):  # best effort: the job is cancelled here either way
                    self.provider.cancel(self._http, model, handle)
                raise Cancelled("generation was cancelled")
            try:
                with _malformed(self.name, "provider_bad_response", permanent=False):
                    status = self.provider.status(self._http, model, handle)
            except TransientError as exc:
                now = time.monotonic()
                unknown_since = unknown_since or now
                if now - unknown_since >= self.unknown_after_seconds:
                    raise PermanentError(
                        f"{self.name}: no answer about job {handle.get('id')} for "
                        f"{now - unknown_since:.0f} s ({exc.code}); its state at the provider is unknown",
                        code="provider_state_unknown",
                    ) from None
                hint = exc.retry_after if isinstance(exc, RateLimited) and exc.retry_after else wait * 2
                wait = min(self.max_poll_seconds, max(self.poll_seconds, hint))
                _sleep(wait, cancel, wake)
                continue
            unknown_since, wait = None, self.poll_seconds
            if status.state == "succeeded":
                if not status.result_url:
                    raise TransientError(
                        f"{self.name}: the job finished without a video", code="corrupt_output"
                    )
                return status
            if status.state == "failed":
                request.journal.save(None)  # that job is over: a retry submits a new one
                raise status.error or JobFailed(f"{self.name}: the job failed")
            if status.state == "canceled":
                request.journal.save(None)
                raise JobFailed(f"{self.name} cancelled the job", code="provider_cancelled")
            done = status.progress if status.progress is not None else (time.monotonic() - started) / expected
            if math.isfinite(done):
                progress(max(0.0, min(0.95, done)))
            # The provider's pace, within the operator's bounds: a hint of 1 ms must not become a busy loop.
            pace = min(self.max_poll_seconds, max(self.poll_seconds, status.poll_after or 0.0))
            _sleep(pace, cancel, wake)


@contextlib.contextmanager
def _malformed(name: str, code: str, *, permanent: bool) -> Iterator[None]:
    """A provider answer that is not its documented shape (not JSON, a field missing or of the wrong
    type) becomes an adapter error here. After a submit it is permanent: whether a job was created is
    unknown, and submitting again could pay twice. While polling it is transient: the state is unknown,
    and polling goes on until ``unknown_after_seconds``."""
    try:
        yield
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, RecursionError) as exc:
        cls = PermanentError if permanent else TransientError
        raise cls(
            f"{name}: an answer not in the provider's documented shape ({type(exc).__name__})", code=code
        ) from None


def _sleep(seconds: float, cancel: CancelEvent, wake: threading.Event | None = None) -> None:
    """Sleep, waking early when the job is cancelled or a provider webhook says it changed."""
    end = time.monotonic() + seconds
    while not cancel.is_set():
        left = end - time.monotonic()
        if left <= 0:
            return
        if wake is not None and wake.wait(min(0.05, left)):
            wake.clear()
            return
        if wake is None:
            time.sleep(min(0.05, left))


def _frames_of(path: Path, fps: int) -> tuple[int | None, float | None]:
    """The frames and frame rate the provider actually delivered (what the bill follows)."""
    import av

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            rate = float(stream.average_rate) if stream.average_rate else float(fps)
            if stream.frames:
                return int(stream.frames), rate
            seconds = float(container.duration) / 1_000_000 if container.duration else None
            return (round(seconds * rate) if seconds else None), rate
    except (av.FFmpegError, IndexError, ValueError):
        return None, None  # validation after the call rejects a file that does not decode
