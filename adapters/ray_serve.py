"""GPU workers on Ray Serve: a multiplexed deployment per device pool, and ``RayAdapter`` to reach it.

The deployment (:func:`build_app`) serves the catalog entries whose ``backend`` is the pool's name.
Requests are tagged with their model id (``multiplexed_model_id``), so Serve routes a job to a
replica that already holds that model; each replica keeps up to ``max_models_per_replica`` loaded
(LRU, through ``@serve.multiplexed``) and runs one job at a time (``max_ongoing_requests=1``, one
GPU per replica). A replica streams progress events, then the clip's files.

The gateway's job row stays the source of truth: a replica that dies fails its call, which the
adapter reports as transient, and the gateway retries or falls back under the same job id, so a
job is never charged twice. Install with ``pip install 'framegate[ray]'``; start the pools with
``framegate ray up``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterable, Sequence
from pathlib import Path
from typing import Any

from local_models import CatalogEntry, GenerationParams, LocalModelError, ModelSpec, get_family

from .base import Artifact, BackendHealth, CancelEvent, GenerationRequest, ProgressCallback
from .errors import AdapterError, Cancelled, PermanentError, TransientError

__all__ = ["RayAdapter", "build_app"]

_FILES = {"video": "video.mp4", "thumbnail": "thumbnail.webp", "spritesheet": "spritesheet.jpg"}


class FramegateGenerator:
    """The replica: loads models on demand (multiplexed) and renders one job at a time."""

    def __init__(self, entries: list[dict[str, Any]], models_dir: str, device: str | None = None) -> None:
        self.entries = {e["id"]: CatalogEntry.model_validate(e) for e in entries}
        self.models_dir = Path(models_dir)
        self.device = device

    async def get_model(self, model_id: str) -> Any:
        """Load ``model_id`` on this replica (wrapped with ``serve.multiplexed`` in :func:`build_app`)."""
        from local_models import load_entry

        entry = self.entries[model_id]
        mode = sorted(get_family(entry.family).spec(entry).modes)[0]
        return await asyncio.to_thread(load_entry, entry, mode, self.models_dir, self.device)

    async def __call__(self, payload: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        import tempfile

        from ray import serve

        from .local import render

        model_id = serve.get_multiplexed_model_id()
        entry = self.entries.get(model_id)
        if entry is None:
            yield {"error": {"code": "model_not_served", "message": f"{model_id!r} is not served here"}}
            return
        try:
            loaded = await self.get_model(model_id)
        except LocalModelError as exc:
            yield {"error": {"code": exc.code, "message": exc.message}}
            return
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        cancel = threading.Event()
        with tempfile.TemporaryDirectory() as tmp:
            image = None
            if payload.get("image") is not None:
                image = Path(tmp) / "input.png"
                image.write_bytes(payload["image"])
            request = GenerationRequest(
                job_id=payload["job_id"],
                model=model_id,
                prompt=payload["prompt"],
                params=GenerationParams.from_dict(payload["params"]),
                output_dir=Path(tmp) / "out",
                image_path=image,
            )

            def progress(fraction: float) -> None:
                loop.call_soon_threadsafe(events.put_nowait, {"progress": fraction})

            task = asyncio.ensure_future(
                asyncio.to_thread(
                    render, entry, loaded, request, progress, cancel, backend="ray", loaded_now=False
                )
            )
            try:
                while not task.done() or not events.empty():
                    getter = asyncio.ensure_future(events.get())
                    await asyncio.wait({task, getter}, return_when=asyncio.FIRST_COMPLETED)
                    if getter.done():
                        yield getter.result()
                    else:
                        getter.cancel()
                artifact = task.result()
            except AdapterError as exc:
                yield {
                    "error": {
                        "code": exc.code,
                        "message": str(exc),
                        "transient": isinstance(exc, TransientError),
                    }
                }
                return
            except BaseException:
                cancel.set()  # the caller went away (or the stream was cancelled): stop at the next step
                raise
            files = {variant: (request.output_dir / name).read_bytes() for variant, name in _FILES.items()}
            yield {
                "done": True,
                "files": files,
                "frames": artifact.frames,
                "width": artifact.width,
                "height": artifact.height,
                "fps": artifact.fps,
                "has_audio": artifact.has_audio,
                "metadata": artifact.metadata,
            }


def build_app(
    entries: Iterable[CatalogEntry],
    models_dir: Path,
    *,
    max_models_per_replica: int = 2,
    num_replicas: int = 1,
    num_gpus: float = 0.0,
    num_cpus: float = 1.0,
    device: str | None = None,
) -> Any:
    """The Serve application for one device pool (bind it with ``serve.run(app, name=pool)``)."""
    from ray import serve

    # A subclass per pool, so that each pool's replicas keep their own number of models.
    multiplexed = serve.multiplexed(max_num_models_per_replica=max_models_per_replica)
    cls = type(
        "FramegateGenerator", (FramegateGenerator,), {"get_model": multiplexed(FramegateGenerator.get_model)}
    )
    deployment = serve.deployment(
        max_ongoing_requests=1,
        num_replicas=num_replicas,
        ray_actor_options={"num_gpus": num_gpus, "num_cpus": num_cpus},
    )(cls)
    return deployment.bind([e.model_dump() for e in entries], str(models_dir), device)


class RayAdapter:
    """Runs jobs on the Serve application ``app`` (default: the backend's name) of a Ray cluster."""

    def __init__(
        self,
        name: str,
        entries: Sequence[CatalogEntry],
        *,
        address: str | None = None,
        app: str | None = None,
        namespace: str = "framegate",
    ) -> None:
        self.name = name
        self._specs = [get_family(e.family).spec(e) for e in entries]
        self._address = address
        self._app = app or name
        self._namespace = namespace
        self._handle: Any = None
        self._lock = threading.Lock()

    def models(self) -> Sequence[ModelSpec]:
        return self._specs

    def health(self) -> BackendHealth:
        return BackendHealth(ok=True)

    def close(self) -> None:
        self._handle = None

    def _app_handle(self) -> Any:
        with self._lock:
            if self._handle is None:
                import ray
                from ray import serve

                if not ray.is_initialized():
                    ray.init(address=self._address or "auto", namespace=self._namespace, log_to_driver=False)
                self._handle = serve.get_app_handle(self._app)
            return self._handle

    def generate(
        self, request: GenerationRequest, progress: ProgressCallback, cancel: CancelEvent
    ) -> Artifact:
        from ray.exceptions import RayError

        payload = {
            "job_id": request.job_id,
            "prompt": request.prompt,
            "params": request.params.as_dict(),
            "image": request.image_path.read_bytes() if request.image_path else None,
        }
        try:
            handle = self._app_handle().options(multiplexed_model_id=request.model, stream=True)
            stream = handle.remote(payload)
            for event in stream:
                if cancel.is_set():
                    stream.cancel()
                    raise Cancelled("generation was cancelled")
                if "progress" in event:
                    progress(float(event["progress"]))
                elif "error" in event:
                    error = event["error"]
                    kind = TransientError if error.get("transient") else PermanentError
                    raise kind(error["message"], code=error["code"])
                elif event.get("done"):
                    return self._save(request, event)
        except (RayError, ConnectionError) as exc:
            # A replica that died, a cluster that went away: another attempt may well succeed.
            raise TransientError(
                f"Ray Serve call failed: {type(exc).__name__}", code="backend_disconnected"
            ) from exc
        raise TransientError("the replica ended the stream without a result", code="backend_disconnected")

    def _save(self, request: GenerationRequest, event: dict[str, Any]) -> Artifact:
        out = request.output_dir
        out.mkdir(parents=True, exist_ok=True)
        for variant, name in _FILES.items():
            (out / name).write_bytes(event["files"][variant])
        return Artifact(
            video_path=out / _FILES["video"],
            width=int(event["width"]),
            height=int(event["height"]),
            frames=int(event["frames"]),
            fps=float(event["fps"]),
            thumbnail_path=out / _FILES["thumbnail"],
            spritesheet_path=out / _FILES["spritesheet"],
            has_audio=bool(event["has_audio"]),
            metadata={**event["metadata"], "backend": self.name},
        )
