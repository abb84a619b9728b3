"""What a model accepts (its rules) and what a job actually runs (resolved parameters).

This is the vocabulary every package shares, defined once and light (it imports no torch, numpy,
PIL or ffmpeg). A :class:`ModelSpec` is the capability description the router filters on and the
family's input rules in one immutable value. A :class:`VideoRequest` is what a caller asked for;
:func:`resolve` turns it into the exact :class:`GenerationParams` a model runs, raising a precise
:class:`~local_models.errors.InvalidInput` when a rule is broken. Nothing is silently
changed except ``seconds``, which maps to the nearest frame count the rule allows.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field, replace
from typing import Literal

from .errors import InvalidInput

__all__ = [
    "MAX_SEED",
    "MODES",
    "FrameRule",
    "GenerationParams",
    "Mode",
    "ModelSpec",
    "SizeRule",
    "VideoRequest",
    "parse_size",
    "resolve",
]

Mode = Literal["t2v", "i2v"]
MODES: tuple[Mode, ...] = ("t2v", "i2v")
MAX_SEED = 2**31 - 1


@dataclass(frozen=True)
class FrameRule:
    """Frame counts of the form ``multiple * k + offset`` within ``[min_frames, max_frames]``."""

    multiple: int = 1
    offset: int = 0
    min_frames: int = 1
    max_frames: int = 1024

    def allows(self, frames: int) -> bool:
        return self.min_frames <= frames <= self.max_frames and (frames - self.offset) % self.multiple == 0

    def nearest(self, frames: float) -> int:
        """The allowed frame count nearest to ``frames`` (ties go to the longer clip)."""
        k = (frames - self.offset) / self.multiple
        candidates = {math.floor(k), math.ceil(k)}
        values = [c * self.multiple + self.offset for c in candidates]
        values = [min(max(v, self.lowest()), self.highest()) for v in values]
        return min(values, key=lambda v: (abs(v - frames), -v))

    def lowest(self) -> int:
        k = math.ceil((self.min_frames - self.offset) / self.multiple)
        return k * self.multiple + self.offset

    def highest(self) -> int:
        k = math.floor((self.max_frames - self.offset) / self.multiple)
        return k * self.multiple + self.offset

    def describe(self) -> str:
        if self.multiple == 1:
            form = "any count"
        elif self.offset:
            form = f"{self.multiple}k+{self.offset}"
        else:
            form = f"a multiple of {self.multiple}"
        return f"{form} from {self.lowest()} to {self.highest()}"

    def as_dict(self) -> dict[str, int | str]:
        return {
            "multiple": self.multiple,
            "offset": self.offset,
            "min": self.lowest(),
            "max": self.highest(),
            "rule": self.describe(),
        }


@dataclass(frozen=True)
class SizeRule:
    """Spatial sizes: a grid (``multiple`` between ``min_side`` and ``max_side``) or an allow-list."""

    default: tuple[int, int]
    multiple: int = 8
    min_side: int = 64
    max_side: int = 1280
    allowed: tuple[tuple[int, int], ...] | None = None

    def allows(self, width: int, height: int) -> bool:
        if self.allowed is not None:
            return (width, height) in self.allowed
        return all(
            self.min_side <= side <= self.max_side and side % self.multiple == 0 for side in (width, height)
        )

    def describe(self) -> str:
        if self.allowed is not None:
            return "one of " + ", ".join(f"{w}x{h}" for w, h in self.allowed)
        return f"width and height multiples of {self.multiple} between {self.min_side} and {self.max_side}"

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"default": f"{self.default[0]}x{self.default[1]}", "rule": self.describe()}
        if self.allowed is not None:
            out["allowed"] = [f"{w}x{h}" for w, h in self.allowed]
        else:
            out.update(multiple=self.multiple, min=self.min_side, max=self.max_side)
        return out


@dataclass(frozen=True)
class ModelSpec:
    """A model's capabilities, input rules, defaults and price: what routing and pricing need."""

    id: str
    family: str
    modes: frozenset[Mode]
    frames: FrameRule
    sizes: SizeRule
    fps: int
    default_seconds: float
    default_steps: int
    default_guidance: float
    price_per_second: float
    max_steps: int = 200
    fps_range: tuple[int, int] | None = None
    audio: bool = False
    negative_prompt: bool = True
    quality: float = 0.5  # 0-1, the catalog's judgement; the "quality" routing policy ranks by it
    description: str = ""
    # The prompt-adherence checker that QC runs on this model's clips (a name in
    # ``local_models.qc.PROMPT_CHECKS``, e.g. "shapes"); None: the model has none.
    prompt_check: str | None = None
    # Hosted models often take a fixed set of lengths (e.g. 4, 6 or 8 seconds): ``seconds`` must be one
    # of these; None: any length the frame rule allows.
    seconds_allowed: tuple[float, ...] | None = None
    # Parameters a caller may not set on this model (a hosted provider has no "steps"): naming one is
    # refused with ``unsupported_parameter`` rather than silently dropped.
    fixed: frozenset[str] = frozenset()
    extras: dict[str, object] = field(default_factory=dict, compare=False, hash=False)

    def with_overrides(self, **changes: object) -> ModelSpec:
        """A copy with some fields replaced (catalog overrides of a family's defaults)."""
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class GenerationParams:
    """Exactly what a job runs. Recorded on the job so that a take can be reproduced."""

    mode: Mode
    width: int
    height: int
    frames: int
    fps: int
    steps: int
    guidance: float
    seed: int
    negative_prompt: str | None = None
    audio: bool = False

    @property
    def duration(self) -> float:
        return self.frames / self.fps

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"

    def as_dict(self) -> dict[str, object]:
        return {
            "mode": self.mode,
            "width": self.width,
            "height": self.height,
            "frames": self.frames,
            "fps": self.fps,
            "steps": self.steps,
            "guidance": self.guidance,
            "seed": self.seed,
            "negative_prompt": self.negative_prompt,
            "audio": self.audio,
        }

    def as_create_fields(self) -> dict[str, object]:
        """The fields of a ``POST /v1/videos`` body that make a Framegate node run exactly these
        parameters (the mode follows from whether an image is sent)."""
        fields: dict[str, object] = {
            "size": self.size,
            "frames": self.frames,
            "fps": self.fps,
            "steps": self.steps,
            "guidance": self.guidance,
            "seed": self.seed,
            "audio": self.audio,
        }
        if self.negative_prompt:
            fields["negative_prompt"] = self.negative_prompt
        return fields

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> GenerationParams:
        return cls(**data)  # type: ignore[arg-type]


@dataclass(frozen=True)
class VideoRequest:
    """What the caller asked for, before any model's rules are applied (``None`` = the model's default).

    ``model`` ``None`` (or ``"auto"``) lets the router choose; ``mode`` is ``i2v`` when an image is sent.
    The API's create body converts itself to this (``VideoCreate.to_request``); the router, the job row
    (through the :class:`GenerationParams` it resolves to) and the adapters all speak it.
    """

    mode: Mode = "t2v"
    model: str | None = None
    size: tuple[int, int] | None = None
    seconds: float | None = None
    frames: int | None = None
    fps: int | None = None
    steps: int | None = None
    guidance: float | None = None
    seed: int | None = None
    negative_prompt: str | None = None
    audio: bool | None = None


def parse_size(size: str) -> tuple[int, int]:
    """Parse ``"WxH"``; raises ``InvalidInput(code="invalid_size")``."""
    parts = size.lower().strip().split("x")
    # isascii(): isdigit() also accepts superscripts and other scripts' digits, which int() rejects or reads.
    if len(parts) != 2 or not all(p.isascii() and p.isdigit() and 0 < len(p) <= 5 for p in parts):
        raise InvalidInput(
            f"size must look like 'WIDTHxHEIGHT' (e.g. '64x64'), got {size!r}",
            code="invalid_size",
            param="size",
        )
    width, height = int(parts[0]), int(parts[1])
    if width <= 0 or height <= 0:
        raise InvalidInput("size must be positive", code="invalid_size", param="size")
    return width, height


def resolve(spec: ModelSpec, request: VideoRequest, *, rng: random.Random | None = None) -> GenerationParams:
    """Apply ``spec``'s rules to ``request``. Raises :class:`InvalidInput` naming the broken rule.

    A request without a seed gets a random one (from ``rng`` if given), so that the take can be
    reproduced from the job's recorded parameters.
    """
    mode, size, seconds, frames = request.mode, request.size, request.seconds, request.frames
    fps, steps, guidance, seed = request.fps, request.steps, request.guidance, request.seed
    negative_prompt, audio = request.negative_prompt, request.audio
    _check_fixed(spec, request)
    if mode not in spec.modes:
        supported = ", ".join(sorted(spec.modes))
        raise InvalidInput(
            f"model {spec.id!r} does not support {mode} (supported: {supported})",
            code="unsupported_mode",
            param="input_reference" if mode == "i2v" else "model",
        )
    width, height = size if size is not None else spec.sizes.default
    if not spec.sizes.allows(width, height):
        raise InvalidInput(
            f"size {width}x{height} is not supported by {spec.id!r}: {spec.sizes.describe()}",
            code="unsupported_size",
            param="size",
        )
    if fps is None:
        fps = spec.fps
    else:
        lo, hi = spec.fps_range or (spec.fps, spec.fps)
        if not lo <= fps <= hi:
            allowed = f"{lo}" if lo == hi else f"{lo} to {hi}"
            raise InvalidInput(
                f"fps {fps} is not supported by {spec.id!r} (supported: {allowed})",
                code="unsupported_fps",
                param="fps",
            )
    frames = _frames(spec, frames, seconds, fps)
    if steps is None:
        steps = spec.default_steps
    elif not 1 <= steps <= spec.max_steps:
        raise InvalidInput(
            f"steps must be between 1 and {spec.max_steps}", code="invalid_steps", param="steps"
        )
    if guidance is None:
        guidance = spec.default_guidance
    elif not (0.0 <= guidance <= 50.0 and math.isfinite(guidance)):
        raise InvalidInput("guidance must be between 0 and 50", code="invalid_guidance", param="guidance")
    if negative_prompt and not spec.negative_prompt:
        raise InvalidInput(
            f"model {spec.id!r} does not accept a negative prompt",
            code="unsupported_negative_prompt",
            param="negative_prompt",
        )
    if audio and not spec.audio:
        raise InvalidInput(
            f"model {spec.id!r} makes no sound (models with audio say so in /v1/models)",
            code="unsupported_audio",
            param="audio",
        )
    if seed is None:
        seed = (rng or random.SystemRandom()).randint(0, MAX_SEED)
    elif not 0 <= seed <= MAX_SEED:
        raise InvalidInput(f"seed must be between 0 and {MAX_SEED}", code="invalid_seed", param="seed")
    return GenerationParams(
        mode=mode,
        width=width,
        height=height,
        frames=frames,
        fps=fps,
        steps=steps,
        guidance=float(guidance),
        seed=seed,
        negative_prompt=negative_prompt or None,
        audio=spec.audio if audio is None else audio,
    )


def _check_fixed(spec: ModelSpec, request: VideoRequest) -> None:
    for name in sorted(spec.fixed):
        if getattr(request, name, None) is not None:
            raise InvalidInput(
                f"model {spec.id!r} does not let a request set {name}",
                code="unsupported_parameter",
                param=name,
            )


def _frames(spec: ModelSpec, frames: int | None, seconds: float | None, fps: int) -> int:
    """The frame count: as asked (if the rule allows it), else the nearest the rule allows to
    ``seconds`` (or the model's default length) at ``fps``."""
    if spec.seconds_allowed is not None:
        return _fixed_length(spec, frames, seconds, fps)
    if frames is not None:
        if not spec.frames.allows(frames):
            raise InvalidInput(
                f"frames={frames} breaks the frame rule of {spec.id!r}: {spec.frames.describe()}",
                code="unsupported_frames",
                param="frames",
            )
    else:
        wanted = spec.default_seconds if seconds is None else seconds
        max_seconds = spec.frames.highest() / fps
        min_seconds = spec.frames.lowest() / fps
        # Half a frame of slack either side: the nearest allowed count must be a real neighbour.
        if not (min_seconds - 0.5 / fps) <= wanted <= (max_seconds + 0.5 / fps) and seconds is not None:
            raise InvalidInput(
                f"seconds={wanted:g} is not supported by {spec.id!r} at {fps} fps "
                f"(supported: {min_seconds:.3g} to {max_seconds:.3g} seconds)",
                code="unsupported_seconds",
                param="seconds",
            )
        return spec.frames.nearest(wanted * fps)
    return frames


def _fixed_length(spec: ModelSpec, frames: int | None, seconds: float | None, fps: int) -> int:
    """A model with a set of lengths: the length asked (as seconds or frames) must be one of them."""
    allowed = spec.seconds_allowed or ()
    wanted = spec.default_seconds if seconds is None else seconds
    if frames is not None:
        wanted = frames / fps
    if not any(abs(wanted - a) < 1e-6 for a in allowed):
        listed = ", ".join(f"{a:g}" for a in allowed)
        asked = f"frames={frames}" if frames is not None else f"seconds={wanted:g}"
        raise InvalidInput(
            f"{asked} is not supported by {spec.id!r} (lengths it renders: {listed} seconds)",
            code="unsupported_frames" if frames is not None else "unsupported_seconds",
            param="frames" if frames is not None else "seconds",
        )
    return round(wanted * fps)
