"""fal's queue API (https://docs.fal.ai/model-endpoints/queue).

``POST {queue}/{model path}`` (``Authorization: Key ...``) -> ``request_id``, ``status_url``,
``response_url``, ``cancel_url``; ``GET status_url?logs=1`` -> ``IN_QUEUE`` (with ``queue_position``)
| ``IN_PROGRESS`` (with ``logs``) | ``COMPLETED``; ``GET response_url`` -> ``{"video": {"url": ...}}``
or the model's error; ``PUT cancel_url``. Errors are ``{"detail": "..."}`` or, for invalid input,
``{"detail": [{"loc", "msg", "type"}]}`` (``type: content_policy_violation`` is a refusal).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import httpx

from .base import GenerationRequest
from .errors import AdapterError, JobFailed, PermanentError, TransientError
from .hosted import ProviderStatus
from .hosted_http import ProviderHttp, looks_refused
from .hosted_models import HostedModel, model_inputs

__all__ = ["FalProvider", "read_fal_error"]

_PERCENT = re.compile(r"(\d{1,3})%")


def read_fal_error(response: httpx.Response) -> tuple[str, bool]:
    detail = response.json().get("detail")
    if isinstance(detail, list):
        refused = any(isinstance(d, dict) and d.get("type") == "content_policy_violation" for d in detail)
        message = "; ".join(str(d.get("msg", d)) if isinstance(d, dict) else str(d) for d in detail)
        return message, refused
    return str(detail), False


class FalProvider:
    kind = "fal"

    @staticmethod
    def read_error(response: httpx.Response) -> tuple[str, bool]:
        return read_fal_error(response)

    def auth_headers(self, api_key: str) -> dict[str, str]:
        return {"Authorization": f"Key {api_key}"}

    def submit(self, http: ProviderHttp, model: HostedModel, request: GenerationRequest) -> dict[str, Any]:
        body = model_inputs(model, request, duration=f"{request.params.duration:g}", image_key="image_url")
        if request.params.audio:
            body["generate_audio"] = True
        queued = http.call("POST", model.target, json=body).json()
        return {
            "id": queued["request_id"],
            "status_url": queued["status_url"],
            "response_url": queued["response_url"],
            "cancel_url": queued["cancel_url"],
        }

    def status(self, http: ProviderHttp, model: HostedModel, handle: Mapping[str, Any]) -> ProviderStatus:
        body = http.call("GET", handle["status_url"], params={"logs": 1}).json()
        state = body.get("status")
        if state == "IN_QUEUE":
            return ProviderStatus("queued", progress=0.0)
        if state == "IN_PROGRESS":
            return ProviderStatus("running", progress=_progress(body.get("logs") or []))
        if state != "COMPLETED":
            raise PermanentError(f"fal answered an unknown status {state!r}", code="provider_rejected")
        try:
            result = http.call("GET", handle["response_url"]).json()
        except PermanentError as exc:  # the model's own failure, told through its result
            return ProviderStatus("failed", error=exc)
        except TransientError as exc:  # the job is over (COMPLETED); its run failed at the provider
            if exc.code != "provider_unavailable":
                raise
            failed = JobFailed(f"fal: the job failed ({exc.message})")
            return ProviderStatus("failed", error=failed)
        url = (result.get("video") or {}).get("url")
        if not url:
            error: AdapterError = PermanentError("fal returned no video", code="provider_failed")
            if looks_refused(str(result)):
                error = PermanentError("fal refused the content", code="content_refused")
            return ProviderStatus("failed", error=error)
        return ProviderStatus("succeeded", result_url=url)

    def cancel(self, http: ProviderHttp, model: HostedModel, handle: Mapping[str, Any]) -> None:
        http.call("PUT", handle["cancel_url"])

    def webhook_job(self, body: Any) -> str | None:
        return None  # not accepted: see the README's "Hosted providers"


def _progress(logs: list[Any]) -> float | None:
    """The last percentage a model logged (``"step 12/30 40%"``), if any."""
    for entry in reversed(logs):
        match = _PERCENT.search(str(entry.get("message", "")) if isinstance(entry, dict) else str(entry))
        if match:
            return min(100, int(match.group(1))) / 100
    return None
