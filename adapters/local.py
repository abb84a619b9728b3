"""``LocalAdapter``: runs diffusers pipelines from ``local_models`` in this process."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from PIL import Image

from local_models import (
    Catalog,
    CatalogEntry,
    GenerationCancelled,
    LoadedPipeline,
    LocalModelError,
    ModelSpec,
    PipelinePool,
    get_family,
    load_entry,
    run_pipeline,
)
from local_models.loading import default_device, device_memory_bytes, estimate_bytes
from local_models.speed import parse_speed_options
from local_models.video import encode_mp4, write_posters

from .base import Artifact, BackendHealth, CancelEvent, GenerationRequest, ProgressCallback
from .errors import Cancelled, PermanentError, TransientError

__all__ = ["LocalAdapter", "render"]


class LocalAdapter:
    """Serves the catalog entries whose ``backend`` is this adapter's name, one job per device at a time."""

    def __init__(
        self,
        catalog: Catalog,
        models_dir: Path,
        *,
        name: str = "local",
        device: str | None = None,
        max_loaded: int = 2,
        memory_gb: float | None = None,
        on_load: Callable[[LoadedPipeline], None] | None = None,
        on_evict: Callable[[str], None] | None = None,
    ) -> None:
        self.name = name
        self._entries: dict[str, CatalogEntry] = {e.id: e for e in catalog.for_backend(name)}
        for entry in self._entries.values():
            try:
                parse_speed_options(entry.options)
            except LocalModelError as exc:
                raise LocalModelError(f"model {entry.id!r}: {exc.message}", code=exc.code) from None
        self._specs = [get_family(e.family).spec(e) for e in self._entries.values()]
        self._models_dir = models_dir
        self._device = device
        # The residency budget: FRAMEGATE_GPU_MEMORY_GB, else 90% of the device (none on a CPU).
        if memory_gb is not None:
            budget: int | None = int(memory_gb * 1024**3)
        else:
            total = device_memory_bytes(device or default_device())
            budget = int(total * 0.9) if total else None
        self._pool = PipelinePool(max_loaded, budget_bytes=budget, on_load=on_load, on_evict=on_evict)
        # One generation per device at a time: two jobs on one GPU only thrash its memory.
        self._device_lock = threading.Lock()

    def models(self) -> Sequence[ModelSpec]:
        return self._specs

    def health(self) -> BackendHealth:
        return BackendHealth(ok=True, warm_models=self._pool.warm())

    def resident_count(self) -> int:
        """How many models this backend holds loaded."""
        return len(self._pool.warm())

    def resident_bytes(self) -> int:
        """Measured memory of the models this backend holds loaded."""
        return self._pool.used_bytes()

    def close(self) -> None:
        self._pool.clear()

    def generate(
        self, request: GenerationRequest, progress: ProgressCallback, cancel: CancelEvent
    ) -> Artifact:
        entry = self._entries.get(request.model)
        if entry is None:
            raise PermanentError(
                f"model {request.model!r} is not served by backend {self.name!r}", code="model_not_served"
            )
        with self._device_lock:
            was_warm = entry.id in self._pool.warm()
            try:
                loaded = self._pool.get(
                    entry.id,
                    lambda: load_entry(entry, request.params.mode, self._models_dir, self._device),
                    estimate_bytes=estimate_bytes(entry, self._models_dir),
                )
            except LocalModelError as exc:
                raise PermanentError(exc.message, code=exc.code) from exc
            return render(
                entry, loaded, request, progress, cancel, backend=self.name, loaded_now=not was_warm
            )


def render(
    entry: CatalogEntry,
    loaded: LoadedPipeline,
    request: GenerationRequest,
    progress: ProgressCallback,
    cancel: CancelEvent,
    *,
    backend: str,
    loaded_now: bool,
) -> Artifact:
    """Run a loaded pipeline for ``request`` and write its MP4 and posters into ``request.output_dir``.

    Local failures are translated here, at the adapter boundary: cancel, bad input (permanent),
    device out of memory (transient).
    """
    p = request.params
    try:
        output = run_pipeline(
            loaded,
            entry.family,
            p,
            request.prompt,
            _open_image(request.image_path),
            lambda done, total: progress(done / total),
            cancel,
        )
    except GenerationCancelled as exc:
        raise Cancelled(str(exc)) from exc
    except LocalModelError as exc:
        raise PermanentError(exc.message, code=exc.code) from exc
    except Exception as exc:
        if _is_out_of_memory(exc):
            raise TransientError("the device ran out of memory", code="device_out_of_memory") from exc
        raise
    frames = output.frames
    request.output_dir.mkdir(parents=True, exist_ok=True)
    video = request.output_dir / "video.mp4"
    encode_mp4(frames, p.fps, video, audio=output.audio, sample_rate=output.sample_rate)
    thumb, sheet = request.output_dir / "thumbnail.webp", request.output_dir / "spritesheet.jpg"
    write_posters(frames, thumb, sheet)
    height, width = frames.shape[1:3]
    return Artifact(
        video_path=video,
        width=width,
        height=height,
        frames=len(frames),
        fps=p.fps,
        thumbnail_path=thumb,
        spritesheet_path=sheet,
        has_audio=output.audio is not None,
        metadata={
            "backend": backend,
            "device": loaded.device,
            "family": entry.family,
            "load_seconds": round(loaded.load_seconds, 4),
            "loaded_now": loaded_now,
            **get_family(entry.family).run_notes(p),
        },
    )


def _open_image(path: Path | None) -> Image.Image | None:
    if path is None:
        return None
    with Image.open(path) as img:
        return img.convert("RGB")


def _is_out_of_memory(exc: BaseException) -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc, torch.OutOfMemoryError)
