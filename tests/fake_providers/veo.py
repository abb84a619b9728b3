"""A fake of Veo through the Gemini API (https://ai.google.dev/gemini-api/docs/video)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse

from .common import API_KEY, Script, size_from


def _error(code: int, status: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, "status": status}}, status_code=code, headers=headers
    )


def veo_app(script: Script) -> FastAPI:
    app = FastAPI()

    def denied(request: Request) -> JSONResponse | None:
        script.record(request)
        if request.headers.get("x-goog-api-key") != API_KEY:
            return _error(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.")
        return None

    @app.post("/v1beta/models/{model}:predictLongRunning")
    async def submit(model: str, request: Request) -> JSONResponse:
        if (answer := denied(request)) is not None:
            return answer
        if (error := script.next_submit_error()) is not None:
            return _error(
                error[0], "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).", error[1]
            )
        body = await request.json()
        instance, parameters = body["instances"][0], body.get("parameters", {})
        size = size_from(parameters["aspectRatio"], parameters["resolution"])
        job = script.new_job(
            instance["prompt"], size, float(parameters["durationSeconds"]), "image" in instance, body
        )
        return JSONResponse({"name": f"models/{model}/operations/{job.id}"})

    @app.get("/v1beta/models/{model}/operations/{oid}")
    async def operation(model: str, oid: str, request: Request) -> JSONResponse:
        if (answer := denied(request)) is not None:
            return answer
        if script.status_down:
            return _error(503, "UNAVAILABLE", "The service is currently unavailable.")
        job = script.jobs.get(oid)
        if job is None:
            return _error(404, "NOT_FOUND", "Operation not found")
        state = script.advance(job)
        name = f"models/{model}/operations/{oid}"
        if state in ("queued", "running"):
            return JSONResponse({"name": name, "metadata": {}})
        if state == "failed":
            return JSONResponse(
                {"name": name, "done": True, "error": {"code": 13, "message": "Internal error"}}
            )
        response: dict[str, Any] = {
            "@type": "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse"
        }
        if state == "refused":
            response["generateVideoResponse"] = {
                "raiMediaFilteredCount": 1,
                "raiMediaFilteredReasons": [
                    "Your prompt could not be submitted: it violates the usage guidelines."
                ],
            }
        else:
            uri = f"{request.base_url}v1beta/files/{job.id}:download?alt=media"
            response["generateVideoResponse"] = {"generatedSamples": [{"video": {"uri": uri}}]}
        return JSONResponse({"name": name, "done": True, "response": response})

    @app.get("/v1beta/files/{fid}:download")
    async def download(fid: str, request: Request) -> Any:
        if (answer := denied(request)) is not None:
            return answer
        return FileResponse(script.video(script.jobs[fid]), media_type="video/mp4")

    return app
