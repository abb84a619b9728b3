"""``LocalAdapter``: runs diffusers pipelines from ``local_models`` in this process."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from local_models import (
    Catalog,
    CatalogEntry,
    GenerationCancelled,
    LoadedPipeline,
    LocalModelError,
    Mode,
    ModelSpec,
    PipelinePool,
    get_family,
    load_entry,
    run_pipeline,
    run_pipeline_batch,
)
from local_models.loading import default_device, device_memory_bytes, estimate_bytes
from local_models.runner import RunOutput
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
        max_batch: int | None = None,
    ) -> None:
        """``max_batch``: jobs one pipeline call may run together; None: 4 on a CUDA device (batching
        fills a GPU's idle compute), 1 on a CPU (measured: no gain on 2 cores, see bench/gpu.py)."""
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
        cuda = (device or default_device()).startswith("cuda")
        self._max_batch = max_batch if max_batch is not None else (4 if cuda else 1)

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

    def batch_limit(self, model: str) -> int:
        """How many text-to-video jobs of ``model`` one pipeline call may run together (1: no batching)."""
        return self._max_batch if model in self._entries else 1

    def _entry(self, model: str) -> CatalogEntry:
        entry = self._entries.get(model)
        if entry is None:
            raise PermanentError(
                f"model {model!r} is not served by backend {self.name!r}", code="model_not_served"
            )
        return entry

    def _load(self, entry: CatalogEntry, mode: Mode) -> tuple[LoadedPipeline, bool]:
        """The entry's pipeline, loaded if need be; (it, whether it was loaded now). Hold the device lock."""
        was_warm = entry.id in self._pool.warm()
        try:
            loaded = self._pool.get(
                entry.id,
                lambda: load_entry(entry, mode, self._models_dir, self._device),
                estimate_bytes=estimate_bytes(entry, self._models_dir),
            )
        except LocalModelError as exc:
            raise PermanentError(exc.message, code=exc.code) from exc
        return loaded, not was_warm

    def generate(
        self, request: GenerationRequest, progress: ProgressCallback, cancel: CancelEvent
    ) -> Artifact:
        entry = self._entry(request.model)
        with self._device_lock:
            loaded, loaded_now = self._load(entry, request.params.mode)
            return render(entry, loaded, request, progress, cancel, backend=self.name, loaded_now=loaded_now)

    def generate_batch(
        self,
        requests: Sequence[GenerationRequest],
        progress: Sequence[ProgressCallback],
        cancel: Sequence[CancelEvent],
    ) -> list[Artifact | None]:
        """Run text-to-video ``requests`` of one model that differ only in prompt and seed as one
        pipeline call (:func:`local_models.run_pipeline_batch`). Each request keeps its own progress
        and cancel: a cancelled one gets None (nothing written) and the others go on; the call stops
        only when all of them are cancelled."""
        entry = self._entry(requests[0].model)
        everyone = _AllOf(cancel)
        with self._device_lock:
            loaded, loaded_now = self._load(entry, requests[0].params.mode)
            try:
                outputs = run_pipeline_batch(
                    loaded,
                    entry.family,
                    [r.params for r in requests],
                    [r.prompt for r in requests],
                    lambda done, total: _report_all(progress, done / total),
                    everyone,
                )
            except GenerationCancelled as exc:
                raise Cancelled(str(exc)) from exc
            except LocalModelError as exc:
                raise PermanentError(exc.message, code=exc.code) from exc
            except Exception as exc:
                if _is_out_of_memory(exc):
                    raise TransientError("the device ran out of memory", code="device_out_of_memory") from exc
                raise
        return [
            None
            if stop.is_set()
            else _write(
                entry, loaded, request, output, backend=self.name, loaded_now=loaded_now, batch=len(requests)
            )
            for request, output, stop in zip(requests, outputs, cancel, strict=True)
        ]


def _report_all(progress: Sequence[ProgressCallback], fraction: float) -> None:
    for report in progress:
        report(fraction)


class _AllOf:
    """Set when every one of ``events`` is set."""

    def __init__(self, events: Sequence[CancelEvent]) -> None:
        self.events = list(events)

    def is_set(self) -> bool:
        return all(e.is_set() for e in self.events)


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
    return _write(entry, loaded, request, output, backend=backend, loaded_now=loaded_now)


def _write(
    entry: CatalogEntry,
    loaded: LoadedPipeline,
    request: GenerationRequest,
    output: RunOutput,
    *,
    backend: str,
    loaded_now: bool,
    **notes: Any,
) -> Artifact:
    """Write a run's MP4 and posters into ``request.output_dir``: the job's artifact."""
    p = request.params
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
            **notes,
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
