"""The built-in prompt engine: rules, no model, deterministic, offline. The embedded default."""

from __future__ import annotations

from functools import partial

from anyio import to_thread

from .drafts import draft_shots
from .rewrite import rewrite
from .types import DraftRequest, ModelTarget, Optimization, ShotDraft

__all__ = ["RulesEngine"]

# Shorter texts are rewritten inline; longer ones (a long brief is a fraction of a second of CPU) on a
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
        run = partial(draft_shots, request, max_chars=self.max_prompt_chars)
        return run() if len(request.brief) <= INLINE_CHARS else await to_thread.run_sync(run)
