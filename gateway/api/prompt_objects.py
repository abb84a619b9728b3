"""The objects prompt help returns (``/openapi.json``): a prompt optimization and a shot-list draft."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

__all__ = ["DraftedShot", "PromptLayer", "PromptLayers", "PromptOptimization", "ShotListDraft"]


class _Object(BaseModel):
    model_config = ConfigDict(extra="allow")


class PromptLayer(_Object):
    """One layer's text; ``added``: the prompt had none, this was written for it."""

    text: str
    added: bool


class PromptLayers(_Object):
    scene: PromptLayer
    motion: PromptLayer
    mood: PromptLayer
    arc: PromptLayer


class PromptOptimization(_Object):
    object: Literal["prompt.optimization"]
    prompt: str
    layers: PromptLayers
    added: list[str]
    kept: list[str]
    dropped: list[str]
    model: str | None
    style: Literal["prose", "tags", "vocabulary", "none"]
    engine: Literal["rules", "llm"]
    warnings: list[dict[str, Any]]


class DraftedShot(_Object):
    position: int
    prompt: str
    layers: PromptLayers
    seconds: float
    model: str
    reason: str
    beat: str


class ShotListDraft(_Object):
    object: Literal["shot_list.draft"]
    project_id: str
    saved: bool
    engine: Literal["rules", "llm"]
    shots: list[DraftedShot]
    seconds: float
    warnings: list[dict[str, Any]]
