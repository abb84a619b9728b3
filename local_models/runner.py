"""The denoising run: seeded, with per-step progress and cooperative cancellation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from .errors import GenerationCancelled
from .families import get_family
from .loading import LoadedPipeline
from .spec import GenerationParams
from .video import to_uint8_frames

__all__ = ["CancelToken", "ProgressFn", "run_pipeline"]

ProgressFn = Callable[[int, int], None]
"""Called with (steps done, total steps) after each denoising step."""


class CancelToken(Protocol):
    def is_set(self) -> bool: ...


def run_pipeline(
    loaded: LoadedPipeline,
    family_name: str,
    params: GenerationParams,
    prompt: str,
    image: Any | None,
    progress: ProgressFn,
    cancel: CancelToken,
) -> np.ndarray:
    """Run ``loaded`` for exactly ``params``; returns uint8 frames (T, H, W, 3).

    Raises :class:`GenerationCancelled` at the first step boundary after ``cancel`` is set.
    """
    import torch

    family = get_family(family_name)
    kwargs = family.call_kwargs(loaded.pipe, params, prompt, image)
    # A CPU generator gives the same noise on every device, so a seed reproduces a take anywhere.
    generator = torch.Generator(device="cpu").manual_seed(params.seed)
    total = family.progress_total(params)

    def on_step_end(pipe: Any, step: int, timestep: Any, callback_kwargs: dict[str, Any]) -> dict[str, Any]:
        progress(step + 1, total)
        if cancel.is_set():
            raise GenerationCancelled("generation was cancelled")
        return callback_kwargs

    if cancel.is_set():
        raise GenerationCancelled("generation was cancelled")
    with torch.inference_mode():
        output = loaded.pipe(
            **kwargs, generator=generator, output_type="np", callback_on_step_end=on_step_end
        )
    frames = output.frames[0]
    if isinstance(frames, torch.Tensor):
        frames = frames.float().cpu().numpy()
    return to_uint8_frames(np.asarray(frames))
