"""The built-in prompt engine: rules, no model, deterministic, offline. The embedded default."""

from __future__ import annotations

from functools import partial

from anyio import to_thread

from .drafts import draft_shots
from .rewrite import rewrite
from .types import DraftRequest, ModelTarget, Optimization, ShotDraft

__all__ = ["RulesEngine"]

# Shorter prompts are rewritten inline (a 2,000-character prompt takes milliseconds); longer ones on a
# worker thread, so that the event loop keeps serving.
INLINE_CHARS = 2000


class RulesEngine:
    """The built-in engine (:class:`~gateway.engine.prompting.types.PromptEngine`): :func:`rewrite` and
    :func:`draft_shots`."""

    name = "rules"

    def __init__(self, max_prompt_chars: int = 4000) -> None:
        self.max_prompt_chars = max_prompt_chars

    async def optimize(self, prompt: str, target: ModelTarget | None) -> Optimization:
        run = partial(rewrite, prompt, target, max_chars=self.max_prompt_chars)
        return run() if len(prompt) <= INLINE_CHARS else await to_thread.run_sync(run)

    async def draft(self, request: DraftRequest) -> ShotDraft:
        # Always on a worker thread: the work grows with clauses x shots (a 2,000-character brief of
        # hundreds of clauses held the loop for 1.7 s inline).
        return await to_thread.run_sync(partial(draft_shots, request, max_chars=self.max_prompt_chars))
