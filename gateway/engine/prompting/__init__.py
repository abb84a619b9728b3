"""Prompt help before the spend: rewrite a prompt into scene, motion (with the camera), mood and temporal
arc in the target model's style, and draft a shot list from a project's brief.

:class:`PromptEngine` is the extension point: :class:`RulesEngine` (built in, offline, deterministic) and
:class:`LlmEngine` (any OpenAI-compatible chat-completions endpoint, falling back to the rules).
"""

from .llm import LlmConfig, LlmEngine
from .rules import RulesEngine
from .types import (
    LAYERS,
    MAX_SHOTS,
    DraftRequest,
    DraftShot,
    Layer,
    ModelTarget,
    Optimization,
    PromptEngine,
    ShotDraft,
    style_of,
)

__all__ = [
    "LAYERS",
    "MAX_SHOTS",
    "DraftRequest",
    "DraftShot",
    "Layer",
    "LlmConfig",
    "LlmEngine",
    "ModelTarget",
    "Optimization",
    "PromptEngine",
    "RulesEngine",
    "ShotDraft",
    "build_engine",
    "style_of",
]


def build_engine(config: LlmConfig | None, *, max_prompt_chars: int = 4000) -> PromptEngine:
    """The LLM engine when one is configured (it falls back to the rules), else the rules."""
    rules = RulesEngine(max_prompt_chars)
    return LlmEngine(config, rules, max_prompt_chars=max_prompt_chars) if config is not None else rules
