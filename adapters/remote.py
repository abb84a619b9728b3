"""``RemoteAdapter``: another Framegate node (or any server with the OpenAI-Videos-shaped API) over httpx.

Submits with an ``Idempotency-Key`` (a retried POST never creates a second remote job), polls with the
server's ``openai-poll-after-ms`` hint, forwards progress and cancel, streams the MP4 to local disk,
and translates remote failures into our transient/permanent split at this boundary.
"""

from __future__ import annotations

import base64
import contextlib
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from local_models import FrameRule, ModelSpec, SizeRule, parse_size

from .base import Artifact, BackendHealth, CancelEvent, GenerationRequest, ProgressCallback
from .errors import Cancelled, PermanentError, TransientError

__all__ = ["RemoteAdapter", "spec_from_model_object"]

# Remote job failures worth retrying elsewhere; anything else is the request's fault.
_TRANSIENT_CODES = {
    "backend_unavailable",
    "backend_timeout",
    "backend_disconnected",
    "backend_circuit_open",
    "worker_lost",
    "internal_error",
    "corrupt_output",
    "device_out_of_memory",
    "no_backend_available",
    "model_unavailable",
}


def spec_from_model_object(m: dict[str, Any]) -> ModelSpec:
    """A ``GET /v1/models`` entry (Framegate's shape) as a local ``ModelSpec``."""
    frames, sizes = m["frames"], m["sizes"]
    allowed = tuple(parse_size(s) for s in sizes["allowed"]) if "allowed" in sizes else None
    return ModelSpec(
        id=m["id"],
        family=m.get("family", "remote"),
        # A remote node's shapes models are checked for prompt adherence here as they are there.
        prompt_check="shapes" if m.get("family") == "shapes" else None,
        modes=frozenset(m["modes"]),
        frames=FrameRule(frames["multiple"], frames["offset"], frames["min"], frames["max"]),
        sizes=SizeRule(
            default=parse_size(sizes["default"]),
            multiple=sizes.get("multiple", 1),
            min_side=sizes.get("min", 1),
            max_side=sizes.get("max", 100_000),
            allowed=allowed,
        ),
        fps=m["fps"],
        fps_range=tuple(m["fps_range"]) if m.get("fps_range") else None,
        default_seconds=m["default_seconds"],
        default_steps=m["default_steps"],
        default_guidance=m["default_guidance"],
        price_per_second=m["price"]["credits_per_second"],
        audio=m.get("audio", False),
        negative_prompt=m.get("negative_prompt", True),
        description=m.get("description", ""),
        extras={"remote": True},
    )


class RemoteAdapter:
    def __init__(
        self,
        name: str,
        url: str,
        api_key: str,
        *,
        models: Sequence[str] | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.name = name
        self._client = httpx.Client(
            base_url=url.rstrip("/"),
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout,
            transport=transport,
        )
        self._only = set(models) if models else None
        self._specs: list[ModelSpec] | None = None

    def models(self) -> Sequence[ModelSpec]:
        if self._specs is None:
            try:
                listed = self._call("GET", "/v1/models").json()["data"]
            except TransientError:
                return []  # the node is down at start-up: it offers nothing until it answers
            self._specs = [
                spec_from_model_object(m) for m in listed if self._only is None or m["id"] in self._only
            ]
        return self._specs

    def health(self) -> BackendHealth:
        try:
            ok = self._client.get("/readyz").status_code == 200
        except httpx.HTTPError as exc:
            return BackendHealth(ok=False, detail=str(exc))
        return BackendHealth(ok=ok)

    def close(self) -> None:
        self._client.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise TransientError(f"{self.name}: timed out ({exc})", code="backend_timeout") from None
        except httpx.TransportError as exc:
            raise TransientError(f"{self.name}: {exc}", code="backend_unavailable") from None
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientError(f"{self.name}: HTTP {response.status_code}", code="backend_unavailable")
        if response.status_code >= 400:
            try:
                error = response.json()["error"]
            except (ValueError, KeyError, TypeError):
                error = {"code": "remote_rejected", "message": response.text[:200]}
            raise PermanentError(
                f"{self.name}: {error.get('message')}", code=error.get("code") or "remote_rejected"
            )
        return response

    def generate(
        self, request: GenerationRequest, progress: ProgressCallback, cancel: CancelEvent
    ) -> Artifact:
        p = request.params
        body: dict[str, Any] = {
            "model": request.model,
            "prompt": request.prompt,
            **p.as_create_fields(),
            "routing": {"allow_fallbacks": False},
        }
        if request.image_path is not None:
            data = base64.b64encode(Path(request.image_path).read_bytes()).decode()
            body["input_reference"] = {"image_url": f"data:image/png;base64,{data}"}
        # One key per call: retries of this POST replay; a later attempt is a new remote job.
        key = f"{request.job_id}:{uuid.uuid4().hex}"
        video = self._submit(body, key)
        wait = 0.2
        while video["status"] in ("queued", "in_progress"):
            if cancel.is_set():
                self._cancel(video["id"])
                raise Cancelled("generation was cancelled")
            time.sleep(wait)
            response = self._call("GET", f"/v1/videos/{video['id']}")
            video = response.json()
            progress(min(0.99, video.get("progress", 0) / 100))
            wait = min(5.0, int(response.headers.get("openai-poll-after-ms", "500")) / 1000)
        if video["status"] != "completed":
            error = video.get("error") or {}
            code = error.get("code", "generation_failed")
            if code == "cancelled":
                raise TransientError(f"{self.name} cancelled the job", code="backend_unavailable")
            cls = TransientError if code in _TRANSIENT_CODES else PermanentError
            raise cls(f"{self.name}: {error.get('message', code)}", code=code)
        request.output_dir.mkdir(parents=True, exist_ok=True)
        path = request.output_dir / "video.mp4"
        try:
            with self._client.stream("GET", f"/v1/videos/{video['id']}/content") as stream:
                if stream.status_code != 200:
                    raise TransientError(
                        f"{self.name}: download failed (HTTP {stream.status_code})",
                        code="backend_unavailable",
                    )
                with path.open("wb") as out:
                    for chunk in stream.iter_bytes():
                        out.write(chunk)
        except httpx.HTTPError as exc:
            raise TransientError(
                f"{self.name}: download failed ({exc})", code="backend_unavailable"
            ) from None
        progress(1.0)
        return Artifact(
            video_path=path,
            width=p.width,
            height=p.height,
            frames=video.get("frames") or p.frames,
            fps=float(video.get("fps") or p.fps),
            has_audio=bool(video.get("audio")),
            metadata={"backend": self.name, "remote_id": video["id"], "remote_model": video["model"]},
        )

    def _submit(self, body: dict[str, Any], key: str) -> dict[str, Any]:
        last: TransientError | None = None
        for delay in (0.0, 0.2, 0.5):
            time.sleep(delay)
            try:
                return dict(
                    self._call("POST", "/v1/videos", json=body, headers={"Idempotency-Key": key}).json()
                )
            except TransientError as exc:
                last = exc
        assert last is not None
        raise last

    def _cancel(self, remote_id: str) -> None:
        with contextlib.suppress(httpx.HTTPError):
            self._client.post(f"/v1/videos/{remote_id}/cancel")
