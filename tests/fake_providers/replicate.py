"""A fake of Replicate's predictions API (https://replicate.com/docs/reference/http)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse

from .common import API_KEY, FakeJob, Script, size_from


def _problem(status: int, title: str, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"title": title, "detail": detail, "status": status}
    return JSONResponse(body, status_code=status, headers=headers, media_type="application/problem+json")


def replicate_app(script: Script) -> FastAPI:
    app = FastAPI()

    def denied(request: Request) -> JSONResponse | None:
        script.record(request)
        if request.headers.get("authorization") != f"Bearer {API_KEY}":
            return _problem(401, "Unauthenticated", "You did not pass a valid authentication token")
        return None

    def prediction(job: FakeJob, request: Request, status: str) -> dict[str, Any]:
        base = f"{request.base_url}v1/predictions/{job.id}"
        out: dict[str, Any] = {
            "id": job.id,
            "model": job.body["model"],
            "version": "dp-4d0c1b",
            "input": job.body["input"],
            "logs": "",
            "output": None,
            "error": None,
            "status": status,
            "created_at": "2026-12-01T00:00:00.000Z",
            "urls": {"get": base, "cancel": f"{base}/cancel", "stream": f"{base}/stream"},
        }
        if status == "processing":
            pct = script.progress(job)
            out["logs"] = f"loading\n {pct}%|{'#' * (pct // 10):<10}| {pct // 10}/10 [00:01<00:02]"
        if status == "succeeded":
            out["output"] = f"{request.base_url}files/{script.video(job).name}"
            out["metrics"] = {"predict_time": 1.5}
        return out

    @app.get("/files/{name}")
    async def file(name: str) -> FileResponse:
        return FileResponse(script.files / name, media_type="video/mp4")

    @app.post("/v1/models/{owner}/{name}/predictions")
    async def create(owner: str, name: str, request: Request) -> JSONResponse:
        if (answer := denied(request)) is not None:
            return answer
        if (error := script.next_submit_error()) is not None:
            detail = "Request was throttled. Expected available in 1 second."
            return _problem(error[0], "Too Many Requests", detail, error[1])
        body = await request.json()
        inputs = body.get("input")
        if not isinstance(inputs, dict) or not isinstance(inputs.get("prompt"), str):
            return _problem(422, "Input validation failed", "input.prompt is required")
        size = size_from(inputs["aspect_ratio"], inputs["resolution"])
        job = script.new_job(
            inputs["prompt"],
            size,
            float(inputs["duration"]),
            "image" in inputs,
            {**body, "model": f"{owner}/{name}"},
        )
        return JSONResponse(prediction(job, request, "starting"), status_code=201)

    @app.get("/v1/predictions/{pid}")
    async def get(pid: str, request: Request) -> JSONResponse:
        if (answer := denied(request)) is not None:
            return answer
        if script.status_down:
            return _problem(503, "Service Unavailable", "upstream connect error")
        job = script.jobs.get(pid)
        if job is None:
            return _problem(404, "Not found", "The requested resource could not be found.")
        state = script.advance(job)
        status = {"queued": "starting", "running": "processing", "done": "succeeded", "cancelled": "canceled"}
        out = prediction(job, request, status.get(state, "failed"))
        if state == "refused":
            out["error"] = (
                "The input or output was flagged as sensitive. Please try again with different inputs. (E005)"
            )
        elif state == "failed" and "ECHOKEY" in job.prompt:  # a provider that quotes our request back
            out["error"] = f"rejected header Authorization: {request.headers.get('authorization')}"
        elif state == "failed":
            out["error"] = "CUDA out of memory"
        return JSONResponse(out)

    @app.post("/v1/predictions/{pid}/cancel")
    async def cancel(pid: str, request: Request) -> JSONResponse:
        if (answer := denied(request)) is not None:
            return answer
        job = script.jobs[pid]
        job.cancelled = True
        script.cancels.append(pid)
        return JSONResponse(prediction(job, request, "canceled"))

    return app
