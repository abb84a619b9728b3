"""Google Veo through the Gemini API (https://ai.google.dev/gemini-api/docs/video).

``POST /v1beta/models/{model}:predictLongRunning`` (header ``x-goog-api-key``) with
``{"instances": [{"prompt", "image"?}], "parameters": {"aspectRatio", "resolution", "durationSeconds",
"negativePrompt", "seed"}}`` -> a long-running operation ``{"name": ...}``; ``GET /v1beta/{name}``
until ``done``; then ``response.generateVideoResponse.generatedSamples[0].video.uri`` (downloaded
with the same key), or ``error`` (``{"code", "message"}``), or ``raiMediaFilteredReasons`` when the
safety filters removed the video. Errors are ``{"error": {"code", "message", "status"}}``.
The Gemini API offers no cancel for these operations: a cancelled job stops being followed.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import httpx

from .base import GenerationRequest
from .errors import JobFailed, PermanentError
from .hosted import ProviderStatus
from .hosted_http import ProviderHttp
from .hosted_models import HostedModel, aspect_ratio, resolution_label

__all__ = ["VeoProvider", "read_google_error"]

# google.rpc.Code values that a retry may cure (UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED,
# ABORTED, INTERNAL).
_TRANSIENT_RPC = {4, 8, 10, 13, 14}


def read_google_error(response: httpx.Response) -> tuple[str, bool]:
    error = response.json().get("error") or {}
    return f"{error.get('status', '')} {error.get('message', '')}".strip(), False


class VeoProvider:
    kind = "veo"

    @staticmethod
    def read_error(response: httpx.Response) -> tuple[str, bool]:
        return read_google_error(response)

    def auth_headers(self, api_key: str) -> dict[str, str]:
        return {"x-goog-api-key": api_key}

    def submit(self, http: ProviderHttp, model: HostedModel, request: GenerationRequest) -> dict[str, Any]:
        p = request.params
        instance: dict[str, Any] = {"prompt": request.prompt}
        if request.image_path is not None:
            data = base64.b64encode(request.image_path.read_bytes()).decode()
            instance["image"] = {"bytesBase64Encoded": data, "mimeType": "image/png"}
        parameters: dict[str, Any] = {
            "aspectRatio": aspect_ratio(p.width, p.height),
            "resolution": resolution_label(p.width, p.height),
            "durationSeconds": round(p.duration),
            **model.input,
        }
        if p.negative_prompt:
            parameters["negativePrompt"] = p.negative_prompt
        if model.takes_seed:
            parameters["seed"] = p.seed
        body = {"instances": [instance], "parameters": parameters}
        operation = http.call("POST", f"/v1beta/models/{model.target}:predictLongRunning", json=body).json()
        return {"id": operation["name"]}

    def status(self, http: ProviderHttp, model: HostedModel, handle: Mapping[str, Any]) -> ProviderStatus:
        operation = http.call("GET", f"/v1beta/{handle['id']}").json()
        if not operation.get("done"):
            return ProviderStatus("running")
        if "error" in operation:
            error = operation["error"] or {}
            message = f"veo: {error.get('message', 'the operation failed')!s}"
            cls = JobFailed if error.get("code") in _TRANSIENT_RPC else PermanentError
            return ProviderStatus("failed", error=cls(message, code="provider_failed"))
        response = (operation.get("response") or {}).get("generateVideoResponse") or {}
        samples = response.get("generatedSamples") or []
        uri = ((samples[0] if samples else {}).get("video") or {}).get("uri")
        if uri:
            return ProviderStatus("succeeded", result_url=uri)
        reasons = response.get("raiMediaFilteredReasons") or []
        if reasons or response.get("raiMediaFilteredCount"):
            reason = "; ".join(map(str, reasons)) or "the safety filters removed the video"
            return ProviderStatus("failed", error=PermanentError(f"veo: {reason}", code="content_refused"))
        return ProviderStatus("failed", error=JobFailed("veo returned no video"))

    def cancel(self, http: ProviderHttp, model: HostedModel, handle: Mapping[str, Any]) -> None:
        return None

    def webhook_job(self, body: Any) -> str | None:
        return None  # not accepted: see the README's "Hosted providers"
