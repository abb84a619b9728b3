"""The denoising run: seeded, with per-step progress and cooperative cancellation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from .errors import GenerationCancelled
from .families import get_family
from .loading import LoadedPipeline
from .spec import GenerationParams
from .video import to_uint8_frames

__all__ = ["CancelToken", "ProgressFn", "RunOutput", "run_pipeline"]

ProgressFn = Callable[[int, int], None]
"""Called with (steps done, total steps) after each denoising step."""


class CancelToken(Protocol):
    def is_set(self) -> bool: ...


@dataclass(frozen=True)
class RunOutput:
    """What a run made: uint8 frames ``(T, H, W, 3)`` and, for models with sound, its waveform."""

    frames: np.ndarray
    audio: np.ndarray | None = None  # float32 (channels, samples) in [-1, 1]
    sample_rate: int | None = None


def run_pipeline(
    loaded: LoadedPipeline,
    family_name: str,
    params: GenerationParams,
    prompt: str,
    image: Any | None,
    progress: ProgressFn,
    cancel: CancelToken,
) -> RunOutput:
    """Run ``loaded`` for exactly ``params``.

    Raises :class:`GenerationCancelled` at the first step boundary after ``cancel`` is set.
    """
    import torch

    family = get_family(family_name)
    pipe = loaded.for_mode(params.mode, family)
    kwargs = family.call_kwargs(pipe, params, prompt, image)
    # A CPU generator gives the same noise on every device, so a seed reproduces a take anywhere.
    generator = torch.Generator(device="cpu").manual_seed(params.seed)
    total = family.progress_total(params)

    def on_step_end(pipe: Any, step: int, timestep: Any, callback_kwargs: dict[str, Any]) -> dict[str, Any]:
        progress(min(step + 1, total), total)
        if cancel.is_set():
            raise GenerationCancelled("generation was cancelled")
        return callback_kwargs

    if cancel.is_set():
        raise GenerationCancelled("generation was cancelled")
    with torch.inference_mode():
        output = pipe(**kwargs, generator=generator, output_type="np", callback_on_step_end=on_step_end)
    frames = output.frames[0]
    if isinstance(frames, torch.Tensor):
        frames = frames.float().cpu().numpy()
    audio, rate = None, None
    waveform = getattr(output, "audio", None)
    if params.audio and waveform is not None:
        if isinstance(waveform, torch.Tensor):
            waveform = waveform.float().cpu().numpy()
        audio = np.asarray(waveform, dtype=np.float32)[0]
        rate = family.sample_rate(pipe)
    return RunOutput(to_uint8_frames(np.asarray(frames)), audio, rate)
