"""Any server with the OpenAI Videos API (``/v1/videos``): OpenAI-style APIs, Azure's ``/openai/v1``,
a LiteLLM proxy, vLLM-Omni, another Framegate.

``POST /v1/videos`` (multipart when an image is sent, as the API documents ``input_reference``) with
``model``, ``prompt``, ``seconds`` (a string) and ``size``; ``GET /v1/videos/{id}`` -> ``status``
``queued | in_progress | completed | failed`` with ``progress`` and ``error {code, message}``, the
``openai-poll-after-ms`` header as the pace; ``GET /v1/videos/{id}/content`` is the MP4;
``DELETE /v1/videos/{id}`` stops and removes a job. Models and their rules come from config: these
servers do not publish Framegate's capability fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from .base import GenerationRequest
from .errors import JobFailed, PermanentError
from .hosted import ProviderStatus
from .hosted_http import ProviderHttp, looks_refused
from .hosted_models import HostedModel

__all__ = ["OpenAIVideosProvider", "read_openai_error"]

# Failure codes of a video that a retry (or another backend) may cure.
_TRANSIENT = {
    "internal_error",
    "server_error",
    "backend_unavailable",
    "backend_timeout",
    "worker_lost",
    "rate_limited",
}


def read_openai_error(response: httpx.Response) -> tuple[str, bool]:
    error = response.json().get("error") or {}
    code = str(error.get("code") or error.get("type") or "")
    return f"{error.get('message', '')} ({code})" if code else str(error.get("message", "")), looks_refused(
        code
    )


class OpenAIVideosProvider:
    kind = "openai"

    @staticmethod
    def read_error(response: httpx.Response) -> tuple[str, bool]:
        return read_openai_error(response)

    def auth_headers(self, api_key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {api_key}"}

    def submit(self, http: ProviderHttp, model: HostedModel, request: GenerationRequest) -> dict[str, Any]:
        p = request.params
        fields: dict[str, Any] = {
            "model": model.target,
            "prompt": request.prompt,
            "seconds": f"{p.duration:g}",
            "size": p.size,
            **model.input,
        }
        if request.image_path is not None:
            files = {"input_reference": ("reference.png", request.image_path.read_bytes(), "image/png")}
            video = http.call(
                "POST", "/videos", data={k: str(v) for k, v in fields.items()}, files=files
            ).json()
        else:
            video = http.call("POST", "/videos", json=fields).json()
        return {"id": video["id"]}

    def status(self, http: ProviderHttp, model: HostedModel, handle: Mapping[str, Any]) -> ProviderStatus:
        response = http.call("GET", f"/videos/{handle['id']}")
        video = response.json()
        hint = response.headers.get("openai-poll-after-ms")
        poll_after = int(hint) / 1000 if hint and hint.isdigit() else None
        state = video.get("status")
        progress = float(video.get("progress") or 0) / 100
        if state == "queued":
            return ProviderStatus("queued", progress=progress, poll_after=poll_after)
        if state == "in_progress":
            return ProviderStatus("running", progress=progress, poll_after=poll_after)
        if state == "completed":
            return ProviderStatus("succeeded", result_url=http.url(f"/videos/{handle['id']}/content"))
        error = video.get("error") or {}
        if not isinstance(error, dict):  # some servers send the message alone
            error = {"message": str(error)}
        code = str(error.get("code") or "generation_failed")
        message = f"{http.name}: {error.get('message') or code!s}"
        if code == "cancelled":
            return ProviderStatus("canceled")
        if looks_refused(code) or looks_refused(message):
            return ProviderStatus("failed", error=PermanentError(message, code="content_refused"))
        cls = JobFailed if code in _TRANSIENT else PermanentError
        return ProviderStatus("failed", error=cls(message, code="provider_failed"))

    def cancel(self, http: ProviderHttp, model: HostedModel, handle: Mapping[str, Any]) -> None:
        http.call("DELETE", f"/videos/{handle['id']}")

    def webhook_job(self, body: Any) -> str | None:
        """OpenAI's webhook events (``video.completed``/``video.failed``) carry the video in ``data``."""
        data = body.get("data") if isinstance(body, dict) else None
        job = data.get("id") if isinstance(data, dict) else None
        return job if isinstance(job, str) else None
