"""The denoising run: seeded, with per-step progress and cooperative cancellation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np

from .errors import GenerationCancelled
from .families import get_family
from .loading import LoadedPipeline
from .spec import GenerationParams
from .video import to_uint8_frames

__all__ = ["CancelToken", "ProgressFn", "RunOutput", "run_pipeline", "run_pipeline_batch"]

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


def _step_callback(progress: ProgressFn, cancel: CancelToken, total: int) -> Callable[..., dict[str, Any]]:
    """A diffusers ``callback_on_step_end`` that reports progress and stops at the step after a cancel.
    Raises :class:`GenerationCancelled` at once if ``cancel`` is already set."""
    if cancel.is_set():
        raise GenerationCancelled("generation was cancelled")

    def on_step_end(pipe: Any, step: int, timestep: Any, callback_kwargs: dict[str, Any]) -> dict[str, Any]:
        progress(min(step + 1, total), total)
        if cancel.is_set():
            raise GenerationCancelled("generation was cancelled")
        return callback_kwargs

    return on_step_end


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

    on_step_end = _step_callback(progress, cancel, total)
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


def run_pipeline_batch(
    loaded: LoadedPipeline,
    family_name: str,
    params: list[GenerationParams],
    prompts: list[str],
    progress: ProgressFn,
    cancel: CancelToken,
) -> list[RunOutput]:
    """Run ``loaded`` once for several text-to-video clips that differ only in prompt and seed.

    Each clip has its own generator seeded as :func:`run_pipeline` seeds a single clip, so a clip is
    the one that job would get alone (up to the arithmetic of batched kernels). ``cancel`` stops the
    whole batch (the caller sets it when every clip in it was cancelled). No audio, no input image.
    """
    import torch

    first = params[0]
    if any(p.mode != "t2v" or p.audio or replace(p, seed=first.seed) != first for p in params):
        raise ValueError("a batch needs text-to-video clips that differ only in prompt and seed")
    family = get_family(family_name)
    pipe = loaded.for_mode(first.mode, family)
    kwargs = family.call_kwargs(pipe, first, prompts[0], None)
    kwargs["prompt"] = list(prompts)
    if kwargs.get("negative_prompt") is not None:
        kwargs["negative_prompt"] = [kwargs["negative_prompt"]] * len(prompts)
    generators = [torch.Generator(device="cpu").manual_seed(p.seed) for p in params]
    total = family.progress_total(first)

    on_step_end = _step_callback(progress, cancel, total)
    with torch.inference_mode():
        output = pipe(**kwargs, generator=generators, output_type="np", callback_on_step_end=on_step_end)
    clips = output.frames
    if isinstance(clips, torch.Tensor):
        clips = clips.float().cpu().numpy()
    return [RunOutput(to_uint8_frames(np.asarray(clip))) for clip in clips]
