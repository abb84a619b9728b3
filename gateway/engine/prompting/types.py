"""What prompt help takes and gives: the target model, a rewrite, a shot-list draft, and the engine protocol.

An engine (:class:`PromptEngine`) rewrites a prompt into the layers scene, motion (including the camera),
mood and temporal arc, in the target model's style, and drafts a shot list from a project's brief. The
built-in :class:`~gateway.engine.prompting.rules.RulesEngine` needs nothing; the
:class:`~gateway.engine.prompting.llm.LlmEngine` asks an OpenAI-compatible chat model and falls back to
the rules on any failure. Both answer the same types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from local_models.spec import ModelSpec

__all__ = [
    "LAYERS",
    "MAX_SHOTS",
    "DraftRequest",
    "DraftShot",
    "Layer",
    "ModelTarget",
    "Optimization",
    "PromptEngine",
    "ShotDraft",
    "Style",
    "style_of",
]

LAYERS = ("scene", "motion", "mood", "arc")
MAX_SHOTS = 12

# prose: long descriptive cinematic sentences (models trained on detailed captions); tags: short
# comma-separated phrases (Stable Diffusion based); vocabulary: only the words the model knows;
# none: the model reads no text.
Style = Literal["prose", "tags", "vocabulary", "none"]
_FAMILY_STYLES: dict[str, Style] = {"animatediff": "tags", "svd": "none"}


def style_of(spec: ModelSpec) -> Style:
    """How prompts for ``spec`` are best written (families not listed take cinematic prose)."""
    if spec.prompt_check == "shapes":
        return "vocabulary"
    return _FAMILY_STYLES.get(spec.family, "prose")


@dataclass(frozen=True)
class ModelTarget:
    """A model the gateway serves, as prompt help sees it."""

    id: str
    family: str
    style: Style
    modes: frozenset[str]
    quality: float
    price_per_second: float
    default_seconds: float
    min_seconds: float
    max_seconds: float
    seconds_allowed: tuple[float, ...] | None = None

    @classmethod
    def of(cls, spec: ModelSpec) -> ModelTarget:
        return cls(
            id=spec.id,
            family=spec.family,
            style=style_of(spec),
            modes=frozenset(spec.modes),
            quality=spec.quality,
            price_per_second=spec.price_per_second,
            default_seconds=spec.default_seconds,
            min_seconds=spec.frames.lowest() / spec.fps,
            max_seconds=spec.frames.highest() / spec.fps,
            seconds_allowed=spec.seconds_allowed,
        )

    def fit_seconds(self, seconds: float) -> float:
        """The length nearest ``seconds`` that this model renders."""
        if self.seconds_allowed:
            return min(self.seconds_allowed, key=lambda s: (abs(s - seconds), -s))
        return round(min(max(seconds, self.min_seconds), self.max_seconds), 2)


@dataclass(frozen=True)
class Layer:
    """One layer of a rewrite: its text, and whether it was added (the prompt had none)."""

    text: str
    added: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"text": self.text, "added": self.added}


def _layers_dict(layers: dict[str, Layer]) -> dict[str, Any]:
    return {name: layers.get(name, Layer("")).as_dict() for name in LAYERS}


@dataclass
class Optimization:
    """A prompt rewritten into its layers. ``kept``: the prompt's own words that are in the rewrite;
    ``dropped``: those that are not (only for a model that would ignore them); ``added``: new phrases."""

    prompt: str
    layers: dict[str, Layer]
    added: list[str]
    kept: list[str]
    dropped: list[str]
    model: str | None
    style: Style
    engine: str = "rules"
    warnings: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "object": "prompt.optimization",
            "prompt": self.prompt,
            "layers": _layers_dict(self.layers),
            "added": self.added,
            "kept": self.kept,
            "dropped": self.dropped,
            "model": self.model,
            "style": self.style,
            "engine": self.engine,
            "warnings": self.warnings,
        }


@dataclass(frozen=True)
class DraftRequest:
    """Draft a shot list from ``brief``: ``shots`` of them (default: one per beat of the brief),
    ``seconds`` each (default: the brief's stated length shared out, else the model's default), all on
    ``model`` if given, else each on the model of ``models`` that suits it best."""

    brief: str
    models: tuple[ModelTarget, ...]
    shots: int | None = None
    seconds: float | None = None
    model: ModelTarget | None = None


@dataclass
class DraftShot:
    position: int
    prompt: str
    layers: dict[str, Layer]
    seconds: float
    model: str
    reason: str
    beat: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "prompt": self.prompt,
            "layers": _layers_dict(self.layers),
            "seconds": self.seconds,
            "model": self.model,
            "reason": self.reason,
            "beat": self.beat,
        }


@dataclass
class ShotDraft:
    shots: list[DraftShot]
    engine: str = "rules"
    warnings: list[dict[str, Any]] = field(default_factory=list)


class PromptEngine(Protocol):
    """Prompt help: rewrite one prompt, or draft a shot list. Implementations never raise for their own
    failures (an LLM that does not answer): they answer the rule-based result with a warning."""

    name: str

    async def optimize(self, prompt: str, target: ModelTarget | None) -> Optimization: ...

    async def draft(self, request: DraftRequest) -> ShotDraft: ...
