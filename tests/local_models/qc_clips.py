"""Synthetic clips for the quality-check tests: uint8 (T, H, W, 3) arrays with known properties."""

from __future__ import annotations

import numpy as np

from local_models.qc import QcReport

__all__ = ["EPS", "SIZE", "background", "codes", "moving", "noise", "uniform", "with_duplicates"]

SIZE = 96
EPS = 1e-9


def background(size: int = SIZE) -> np.ndarray:
    """A smooth texture (uint8 gray, H x W), so that motion and structure are measurable."""
    yy, xx = np.mgrid[:size, :size]
    return (120 + 40 * np.sin(xx / 7.0) * np.cos(yy / 9.0)).astype(np.uint8)


def moving(frames: int = 9, step: int = 3) -> np.ndarray:
    """A red square sliding right over the texture, ``step`` pixels a frame."""
    ground = np.repeat(background()[..., None], 3, axis=-1)
    clip = np.repeat(ground[None], frames, axis=0)
    for t in range(frames):
        x = 8 + step * t
        clip[t, 20:60, x : x + 40] = (220, 40, 40)
    return clip


def noise(frames: int = 9, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (frames, SIZE, SIZE, 3), dtype=np.uint8)


def with_duplicates(source: np.ndarray, duplicated: int) -> np.ndarray:
    """A clip as long as ``source`` whose first ``duplicated`` frame changes repeat the previous frame;
    the other changes step on through ``source``."""
    out = [source[0]]
    position = 0
    for i in range(len(source) - 1):
        if i >= duplicated:
            position += 1
        out.append(source[position])
    return np.stack(out)


def uniform(lumas: list[int], size: int = 32) -> np.ndarray:
    """Flat gray frames (R = G = B), one per value: their luma is exactly that value."""
    return np.stack([np.full((size, size, 3), v, dtype=np.uint8) for v in lumas])


def codes(report: QcReport) -> set[str]:
    return {f.code for f in report.flags}
