"""Clips of a shapes model for random prompts from the vocabulary: what training and evaluation sample."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch

from local_models.shapes.vocab import Attributes, write_prompt

from .data import sample_attributes

__all__ = ["model_clips", "prompts_for"]


def prompts_for(n: int, seed: int) -> tuple[list[Attributes], list[str]]:
    """``n`` random attribute sets and a phrasing of each, from ``Random(seed)``."""
    rng = random.Random(seed)
    attrs = [sample_attributes(rng) for _ in range(n)]
    return attrs, [write_prompt(a, rng) for a in attrs]


def model_clips(
    pipe: Any, preset: Any, *, n: int, seed: int, size: int | None = None, batch: int = 16
) -> tuple[np.ndarray, list[Attributes], list[str]]:
    """Render ``n`` prompts at ``preset``'s steps and guidance (batch ``i`` seeded ``seed + i``):
    float32 clips (n, T, H, W, 3) in [0, 1] at ``size`` (native when None), attributes, prompts."""
    attrs, prompts = prompts_for(n, seed)
    out = []
    for i in range(0, n, batch):
        frames = pipe(
            prompts[i : i + batch],
            num_inference_steps=preset.steps,
            guidance_scale=preset.guidance,
            height=size,
            width=size,
            generator=torch.Generator().manual_seed(seed + i),
        ).frames
        out.append(np.asarray(frames, dtype=np.float32))
    return np.concatenate(out), attrs, prompts
