"""A fake of the OpenAI Videos API (https://platform.openai.com/docs/api-reference/videos), as a plain
OpenAI-style server offers it: no Framegate fields, ``openai-poll-after-ms`` as the pace."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse

from .common import API_KEY, FakeJob, Script


def _error(
    status: int, message: str, code: str | None, kind: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


def openai_app(script: Script) -> FastAPI:
    app = FastAPI()

    def denied(request: Request) -> JSONResponse | None:
        script.record(request)
        if request.headers.get("authorization") != f"Bearer {API_KEY}":
            return _error(401, "Incorrect API key provided.", "invalid_api_key", "invalid_request_error")
        return None

    def video(job: FakeJob, status: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": job.id,
            "object": "video",
            "created_at": 1764547200,
            "status": status,
            "model": job.body["model"],
            "progress": 100 if status == "completed" else script.progress(job),
            "seconds": job.body["seconds"],
            "size": job.body["size"],
            "error": None,
        }
        if status == "failed":
            if job.refused:
                out["error"] = {
                    "code": "moderation_blocked",
                    "message": "Your request was blocked by our moderation system.",
                }
            else:
                out["error"] = {"code": "internal_error", "message": "The video could not be generated."}
        return out

    @app.post("/v1/videos")
    async def create(request: Request) -> JSONResponse:
        if (answer := denied(request)) is not None:
            return answer
        if (error := script.next_submit_error()) is not None:
            return _error(
                error[0], "Rate limit reached for requests", "rate_limit_exceeded", "requests", error[1]
            )
        if request.headers.get("content-type", "").startswith("multipart/"):
            form = await request.form()
            body: dict[str, Any] = {k: v for k, v in form.items() if isinstance(v, str)}
            has_image = "input_reference" in form
        else:
            body, has_image = await request.json(), False
        width, height = (int(x) for x in str(body["size"]).split("x"))
        job = script.new_job(str(body["prompt"]), (width, height), float(body["seconds"]), has_image, body)
        return JSONResponse(video(job, "queued"))

    @app.get("/v1/videos/{vid}")
    async def retrieve(vid: str, request: Request) -> JSONResponse:
        if (answer := denied(request)) is not None:
            return answer
        if script.status_down:
            return _error(503, "The server is overloaded.", None, "server_error")
        job = script.jobs.get(vid)
        if job is None:
            return _error(404, f"Video {vid} not found", "video_not_found", "invalid_request_error")
        state = script.advance(job)
        status = {"queued": "queued", "running": "in_progress", "done": "completed"}.get(state, "failed")
        return JSONResponse(video(job, status), headers={"openai-poll-after-ms": "50"})

    @app.get("/v1/videos/{vid}/content")
    async def content(vid: str, request: Request) -> Any:
        if (answer := denied(request)) is not None:
            return answer
        return FileResponse(script.video(script.jobs[vid]), media_type="video/mp4")

    @app.delete("/v1/videos/{vid}")
    async def delete(vid: str, request: Request) -> Any:
        if (answer := denied(request)) is not None:
            return answer
        job = script.jobs[vid]
        job.cancelled = True
        script.cancels.append(vid)
        return {"id": vid, "object": "video.deleted", "deleted": True}

    return app
