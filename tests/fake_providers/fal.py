"""A fake of fal's queue API (https://docs.fal.ai/model-endpoints/queue)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse

from .common import API_KEY, Script, size_from


def fal_app(script: Script) -> FastAPI:
    app = FastAPI()

    def denied(request: Request) -> JSONResponse | None:
        script.record(request)
        if request.headers.get("authorization") != f"Key {API_KEY}":
            return JSONResponse({"detail": "Invalid authentication credentials"}, status_code=401)
        return None

    @app.get("/files/{name}")
    async def file(name: str) -> FileResponse:
        return FileResponse(script.files / name, media_type="video/mp4")

    @app.put("/{model:path}/requests/{rid}/cancel")
    async def cancel(model: str, rid: str, request: Request) -> JSONResponse:
        if (answer := denied(request)) is not None:
            return answer
        job = script.jobs[rid]
        if job.polls > script.queue_polls + script.run_polls and "HANG" not in job.prompt:
            return JSONResponse({"status": "ALREADY_COMPLETED"}, status_code=400)
        job.cancelled = True
        script.cancels.append(rid)
        return JSONResponse({"status": "CANCELLATION_REQUESTED"}, status_code=202)

    @app.get("/{model:path}/requests/{rid}/status")
    async def status(model: str, rid: str, request: Request) -> JSONResponse:
        if (answer := denied(request)) is not None:
            return answer
        if script.status_down:
            return JSONResponse({"detail": "Service Unavailable"}, status_code=503)
        job = script.jobs.get(rid)
        if job is None:
            return JSONResponse({"detail": "Request not found"}, status_code=404)
        state = script.advance(job)
        base = f"{request.base_url}{model}/requests/{rid}"
        if state == "queued":
            return JSONResponse({"status": "IN_QUEUE", "queue_position": 3, "response_url": base})
        logs = [{"message": f"denoising {script.progress(job)}%|###  |", "level": "INFO", "timestamp": "now"}]
        if state == "running":
            return JSONResponse({"status": "IN_PROGRESS", "logs": logs, "response_url": base})
        return JSONResponse({"status": "COMPLETED", "logs": logs, "response_url": base}, status_code=200)

    @app.get("/{model:path}/requests/{rid}")
    async def result(model: str, rid: str, request: Request) -> Any:
        if (answer := denied(request)) is not None:
            return answer
        job = script.jobs[rid]
        if job.refused:
            detail = [
                {
                    "loc": ["body", "prompt"],
                    "msg": "The content could not be processed because it contained material flagged "
                    "by a content checker.",
                    "type": "content_policy_violation",
                }
            ]
            return JSONResponse({"detail": detail}, status_code=422)
        if job.fails:
            return JSONResponse({"detail": "Internal error while generating"}, status_code=500)
        path = script.video(job)
        url = f"{request.base_url}files/{path.name}"
        video = {
            "url": url,
            "content_type": "video/mp4",
            "file_name": "output.mp4",
            "file_size": path.stat().st_size,
        }
        return {"video": video, "seed": job.body.get("seed")}

    @app.post("/{model:path}")
    async def submit(model: str, request: Request) -> JSONResponse:
        if (answer := denied(request)) is not None:
            return answer
        if (error := script.next_submit_error()) is not None:
            return JSONResponse({"detail": "Rate limit exceeded"}, status_code=error[0], headers=error[1])
        body = await request.json()
        if not isinstance(body.get("prompt"), str):
            detail = [{"loc": ["body", "prompt"], "msg": "field required", "type": "missing"}]
            return JSONResponse({"detail": detail}, status_code=422)
        size = size_from(body["aspect_ratio"], body["resolution"])
        job = script.new_job(body["prompt"], size, float(body["duration"]), "image_url" in body, body)
        base = f"{request.base_url}{model}/requests/{job.id}"
        return JSONResponse(
            {
                "request_id": job.id,
                "response_url": base,
                "status_url": f"{base}/status",
                "cancel_url": f"{base}/cancel",
                "queue_position": 0,
            }
        )

    return app
