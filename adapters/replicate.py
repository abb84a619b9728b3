"""Replicate's predictions API (https://replicate.com/docs/reference/http).

``POST /v1/models/{owner}/{name}/predictions`` (or ``/v1/deployments/{owner}/{name}/predictions``
when the target starts with ``deployments/``), ``Authorization: Bearer ...``, body ``{"input": {...}}``
and a ``Cancel-After`` header so an orphaned prediction stops on its own. ``GET /v1/predictions/{id}``
-> ``status`` ``starting | processing | succeeded | failed | canceled``, ``output`` (a URL or a list
of URLs), ``logs`` (progress bars with percentages), ``error``. ``POST /v1/predictions/{id}/cancel``.
Errors are problem details: ``{"title", "detail", "status"}``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import httpx

from .base import GenerationRequest
from .errors import JobFailed, PermanentError
from .hosted import ProviderStatus
from .hosted_http import ProviderHttp, looks_refused
from .hosted_models import HostedModel, model_inputs

__all__ = ["ReplicateProvider", "read_replicate_error"]

_PERCENT = re.compile(r"(\d{1,3})%\|")


def read_replicate_error(response: httpx.Response) -> tuple[str, bool]:
    body = response.json()
    return str(body.get("detail") or body.get("title") or body), False


class ReplicateProvider:
    kind = "replicate"

    @staticmethod
    def read_error(response: httpx.Response) -> tuple[str, bool]:
        return read_replicate_error(response)

    def __init__(self, cancel_after: str = "30m", webhook_url: str | None = None) -> None:
        self.cancel_after = cancel_after
        self.webhook_url = webhook_url

    def auth_headers(self, api_key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {api_key}"}

    def submit(self, http: ProviderHttp, model: HostedModel, request: GenerationRequest) -> dict[str, Any]:
        seconds = request.params.duration
        inputs = model_inputs(
            model, request, duration=seconds if seconds != int(seconds) else int(seconds), image_key="image"
        )
        target = model.target
        path = (
            f"/v1/{target}/predictions"
            if target.startswith("deployments/")
            else f"/v1/models/{target}/predictions"
        )
        body: dict[str, Any] = {"input": inputs}
        if self.webhook_url:  # a faster path than polling, never the only one
            body.update(webhook=self.webhook_url, webhook_events_filter=["completed"])
        prediction = http.call("POST", path, json=body, headers={"Cancel-After": self.cancel_after}).json()
        return {"id": prediction["id"], "get": prediction.get("urls", {}).get("get")}

    def status(self, http: ProviderHttp, model: HostedModel, handle: Mapping[str, Any]) -> ProviderStatus:
        body = http.call("GET", handle.get("get") or f"/v1/predictions/{handle['id']}").json()
        state = body.get("status")
        if state == "starting":
            return ProviderStatus("queued", progress=0.0)
        if state == "processing":
            return ProviderStatus("running", progress=_progress(body.get("logs") or ""))
        if state == "succeeded":
            output = body.get("output")
            url = output[-1] if isinstance(output, list) and output else output
            return ProviderStatus("succeeded", result_url=url if isinstance(url, str) else None)
        if state in ("canceled", "aborted"):
            return ProviderStatus("canceled")
        message = f"replicate: {body.get('error') or 'the prediction failed'!s}"
        if looks_refused(message):
            return ProviderStatus("failed", error=PermanentError(message, code="content_refused"))
        # A model that failed at run time may work on a retry or on another backend.
        return ProviderStatus("failed", error=JobFailed(message))

    def cancel(self, http: ProviderHttp, model: HostedModel, handle: Mapping[str, Any]) -> None:
        http.call("POST", f"/v1/predictions/{handle['id']}/cancel")

    def webhook_job(self, body: Any) -> str | None:
        """Replicate's webhook body is the prediction."""
        job = body.get("id") if isinstance(body, dict) else None
        return job if isinstance(job, str) else None


def _progress(logs: str) -> float | None:
    """The last tqdm percentage in the logs (``" 40%|████      | 12/30"``), if any."""
    found = _PERCENT.findall(logs)
    return min(100, int(found[-1])) / 100 if found else None
