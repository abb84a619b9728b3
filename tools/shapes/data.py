"""Procedural training clips: one anti-aliased shape moving on a plain background.

Clips are ``float32`` arrays in [-1, 1] shaped (B, 3, T, H, W). Shapes are drawn with the adherence
checker's own coverage model (``local_models.shapes.adherence.shape_masks``). Trajectories always stay inside
the frame, so a shape moving right starts on the left: the prompt's direction shows in every frame.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

from local_models.shapes.adherence import shape_masks
from local_models.shapes.vocab import BACKGROUNDS, COLOURS, MOTIONS, SHAPES, SIZES, SPEEDS, Attributes

__all__ = ["ClipSpec", "render_clips", "sample_attributes", "sample_specs", "to_uint8"]

SIZE_PX = {"small": (7.0, 9.0), None: (10.0, 12.0), "big": (13.0, 15.0)}
SPEED_PX = {"slowly": (0.9, 1.3), "quickly": (2.0, 2.4), None: (1.4, 1.9)}
_DIRS = {"left": (-1.0, 0.0), "right": (1.0, 0.0), "up": (0.0, -1.0), "down": (0.0, 1.0), "still": (0.0, 0.0)}


@dataclass(frozen=True)
class ClipSpec:
    """One clip's attributes plus its geometry (centre of frame 0, extent, velocity in px/frame)."""

    attrs: Attributes
    x0: float
    y0: float
    extent: float
    vx: float
    vy: float


def sample_attributes(rng: random.Random) -> Attributes:
    motion = rng.choice(MOTIONS)
    return Attributes(
        colour=rng.choice(list(COLOURS)),
        shape=rng.choice(SHAPES),
        motion=motion,
        speed=None if motion == "still" else rng.choice((*SPEEDS, None)),
        background=rng.choice(list(BACKGROUNDS)),
        size=rng.choice((*SIZES, None)),
    )


def sample_specs(
    attrs_list: list[Attributes], rng: random.Random, *, frames: int, size: int, randomness: float = 1.0
) -> list[ClipSpec]:
    """Geometry for each clip. ``randomness`` in [0, 1] is the curriculum: 0 puts every clip of a
    direction on the same canonical path at mid size and speed; 1 draws everything at random."""
    specs = []
    for attrs in attrs_list:
        lo, hi = SIZE_PX[attrs.size]
        extent = (lo + hi) / 2 + (rng.uniform(lo, hi) - (lo + hi) / 2) * randomness
        slo, shi = SPEED_PX[attrs.speed]
        speed = (slo + shi) / 2 + (rng.uniform(slo, shi) - (slo + shi) / 2) * randomness
        dx, dy = _DIRS[attrs.motion or "still"]
        vx, vy = dx * speed, dy * speed
        travel_x, travel_y = vx * (frames - 1), vy * (frames - 1)
        margin = extent / 2 + 1.0
        # The start range that keeps the whole path inside the frame.
        x_lo, x_hi = margin - min(0.0, travel_x), size - margin - max(0.0, travel_x)
        y_lo, y_hi = margin - min(0.0, travel_y), size - margin - max(0.0, travel_y)
        cx, cy = (x_lo + x_hi) / 2, (y_lo + y_hi) / 2
        x0 = cx + (rng.uniform(x_lo, x_hi) - cx) * randomness
        y0 = cy + (rng.uniform(y_lo, y_hi) - cy) * randomness
        specs.append(ClipSpec(attrs, x0, y0, extent, vx, vy))
    return specs


def render_clips(specs: list[ClipSpec], *, frames: int, size: int) -> np.ndarray:
    """Render ``specs`` to float32 clips in [-1, 1], shaped (B, 3, T, H, W)."""
    out = np.empty((len(specs), 3, frames, size, size), dtype=np.float32)
    t = np.arange(frames, dtype=np.float32)
    for i, spec in enumerate(specs):
        cx = spec.x0 + spec.vx * t
        cy = spec.y0 + spec.vy * t
        alpha = shape_masks(spec.attrs.shape or "circle", cx, cy, np.full(frames, spec.extent), size)
        fg = np.array(COLOURS[spec.attrs.colour or "white"], dtype=np.float32)[:, None, None, None] / 255
        bg = (
            np.array(BACKGROUNDS[spec.attrs.background or "black"], dtype=np.float32)[:, None, None, None]
            / 255
        )
        out[i] = (bg + (fg - bg) * alpha[None]) * 2 - 1
    return out


def to_uint8(clips: np.ndarray) -> np.ndarray:
    """(B, 3, T, H, W) in [-1, 1] -> (B, T, H, W, 3) uint8."""
    return ((np.clip(clips, -1, 1) + 1) * 127.5).round().astype(np.uint8).transpose(0, 2, 3, 4, 1)
