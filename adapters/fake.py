"""``FakeAdapter``: deterministic frames with configurable timing and faults. Product code for tests,
demos and chaos drills; it runs the same contract as every real backend."""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from local_models import FrameRule, ModelSpec, SizeRule
from local_models.video import encode_mp4, write_posters

from .base import Artifact, BackendHealth, CancelEvent, GenerationRequest, ProgressCallback
from .errors import Cancelled, PermanentError, TransientError

__all__ = ["FakeAdapter", "FakeBehaviour", "fake_model_spec"]


def fake_model_spec(
    model_id: str = "fake-video", *, price_per_second: float = 1.0, modes: Sequence[str] = ("t2v", "i2v")
) -> ModelSpec:
    """A small model spec with generous rules, served by :class:`FakeAdapter`."""
    return ModelSpec(
        id=model_id,
        family="fake",
        modes=frozenset(modes),  # type: ignore[arg-type]
        frames=FrameRule(multiple=1, offset=0, min_frames=1, max_frames=240),
        sizes=SizeRule(default=(64, 64), multiple=2, min_side=16, max_side=512),
        fps=8,
        fps_range=(1, 60),
        default_seconds=1.0,
        default_steps=4,
        default_guidance=1.0,
        price_per_second=price_per_second,
        quality=0.0,
        description="deterministic fake frames (tests and demos)",
    )


@dataclass
class FakeBehaviour:
    """How the fake behaves: per-step delay and injected faults.

    ``fail`` is ``None``, ``"transient"`` or ``"permanent"``; ``fail_times`` limits how many calls
    fail (``None``: all); ``fail_rate`` fails calls at random (seeded); ``hang`` blocks until cancelled;
    ``corrupt`` returns a file that is not a video; ``die_at_step`` drops the connection mid-job;
    ``blank_tail`` blacks out that fraction of the clip's last frames (a defective take), on the first
    ``blank_times`` calls (``None``: all); ``batch`` > 1 runs that many jobs per call.
    """

    step_seconds: float = 0.0
    fail: str | None = None
    fail_times: int | None = None
    fail_rate: float = 0.0
    hang: bool = False
    corrupt: bool = False  # write bytes that are not a video
    posters: bool = True  # False: return only the MP4, as hosted providers do (the worker makes posters)
    die_at_step: int | None = None  # lose the connection after this many steps
    seed: int = 0
    blank_tail: float = 0.0
    blank_times: int | None = None
    batch: int = 1  # jobs one generate_batch call may take (1: the fake does not batch)
    calls: int = field(default=0, init=False)
    batches: list[int] = field(default_factory=list, init=False)  # the size of each batch call


class FakeAdapter:
    """A backend that draws a coloured square moving across the frame (colour from the prompt)."""

    def __init__(
        self,
        name: str = "fake",
        models: Sequence[ModelSpec] | None = None,
        behaviour: FakeBehaviour | None = None,
    ) -> None:
        self.name = name
        self._models = list(models) if models is not None else [fake_model_spec()]
        self.behaviour = behaviour or FakeBehaviour()
        self._rng = random.Random(self.behaviour.seed)
        self._lock = threading.Lock()

    def models(self) -> Sequence[ModelSpec]:
        return self._models

    def health(self) -> BackendHealth:
        return BackendHealth(ok=True, warm_models=[m.id for m in self._models])

    def close(self) -> None:
        pass

    def _maybe_fail(self) -> int:
        """Count the call and raise its injected failure, if any; the call's number."""
        b = self.behaviour
        with self._lock:
            b.calls += 1
            call = b.calls
            roll = self._rng.random()
        if b.fail and (b.fail_times is None or call <= b.fail_times):
            err = TransientError if b.fail == "transient" else PermanentError
            raise err(f"injected {b.fail} failure (call {call})")
        if b.fail_rate and roll < b.fail_rate:
            raise TransientError(f"injected random failure (call {call})")
        return call

    def generate(
        self, request: GenerationRequest, progress: ProgressCallback, cancel: CancelEvent
    ) -> Artifact:
        call = self._maybe_fail()
        p = request.params
        for step in range(p.steps):
            if cancel.is_set():
                raise Cancelled("generation was cancelled")
            if self.behaviour.step_seconds:
                time.sleep(self.behaviour.step_seconds)
            if self.behaviour.die_at_step is not None and step + 1 >= self.behaviour.die_at_step:
                raise TransientError("the backend closed the connection mid-job", code="backend_disconnected")
            progress((step + 1) / p.steps)
        while self.behaviour.hang and not cancel.is_set():
            time.sleep(0.01)
        if cancel.is_set():
            raise Cancelled("generation was cancelled")
        return self._write(request, call)

    def batch_limit(self, model: str) -> int:
        """Jobs one :meth:`generate_batch` call may take (``FakeBehaviour.batch``)."""
        return self.behaviour.batch

    def generate_batch(
        self,
        requests: Sequence[GenerationRequest],
        progress: Sequence[ProgressCallback],
        cancel: Sequence[CancelEvent],
    ) -> list[Artifact | None]:
        """Several jobs in one call, as :meth:`adapters.LocalAdapter.generate_batch` runs them: one
        injected failure fails them all; a cancelled one gets None; all cancelled stops the call."""
        with self._lock:
            self.behaviour.batches.append(len(requests))
        call = self._maybe_fail()
        steps = requests[0].params.steps
        for step in range(steps):
            if all(c.is_set() for c in cancel):
                raise Cancelled("generation was cancelled")
            if self.behaviour.step_seconds:
                time.sleep(self.behaviour.step_seconds)
            for report in progress:
                report((step + 1) / steps)
        if all(c.is_set() for c in cancel):
            raise Cancelled("generation was cancelled")
        return [None if c.is_set() else self._write(r, call) for r, c in zip(requests, cancel, strict=True)]

    def _write(self, request: GenerationRequest, call: int) -> Artifact:
        p = request.params
        frames = render_fake_frames(request)
        b = self.behaviour
        if b.blank_tail and (b.blank_times is None or call <= b.blank_times):
            frames[len(frames) - round(len(frames) * b.blank_tail) :] = 0
        request.output_dir.mkdir(parents=True, exist_ok=True)
        video = request.output_dir / "video.mp4"
        if self.behaviour.corrupt:
            video.write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not a video")
            return Artifact(video_path=video, width=p.width, height=p.height, frames=p.frames, fps=p.fps)
        encode_mp4(frames, p.fps, video)
        if not self.behaviour.posters:
            meta = {"backend": self.name, "renderer": "fake"}
            return Artifact(video, p.width, p.height, p.frames, p.fps, metadata=meta)
        thumb, sheet = request.output_dir / "thumbnail.webp", request.output_dir / "spritesheet.jpg"
        write_posters(frames, thumb, sheet)
        return Artifact(
            video_path=video,
            width=p.width,
            height=p.height,
            frames=p.frames,
            fps=p.fps,
            thumbnail_path=thumb,
            spritesheet_path=sheet,
            metadata={"backend": self.name, "renderer": "fake"},
        )


def render_fake_frames(request: GenerationRequest) -> np.ndarray:
    """Deterministic frames: a square whose colour comes from (prompt, seed), moving left to right.

    With an input image, the image (resized) is the first frame and then slides right.
    """
    p = request.params
    digest = hashlib.sha256(f"{request.prompt}\x00{p.seed}".encode()).digest()
    colour = np.array(list(digest[:3]), dtype=np.uint8)
    frames = np.zeros((p.frames, p.height, p.width, 3), dtype=np.uint8)
    side = max(2, min(p.width, p.height) // 4)
    if request.image_path is not None:
        with Image.open(request.image_path) as img:
            first = np.asarray(img.convert("RGB").resize((p.width, p.height)))
        for t in range(p.frames):
            frames[t] = np.roll(first, shift=t, axis=1)
        return frames
    for t in range(p.frames):
        x = int((p.width - side) * (t / max(1, p.frames - 1)))
        y = (p.height - side) // 2
        frames[t, y : y + side, x : x + side] = colour
    return frames
