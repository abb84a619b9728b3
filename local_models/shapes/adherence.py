"""Does a clip show what its prompt asked for? Colour, shape and direction, measured on the pixels.

QC's ``"shapes"`` prompt check (:func:`prompt_check`), also used by the tests, the training tools and
the benchmarks. Works at any resolution (measurements are rescaled to a 32-pixel frame) on uint8
frames shaped (T, H, W, 3).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from PIL import Image

from ..qc import QcFlag
from .vocab import COLOURS, SHAPES, Attributes, parse_prompt

__all__ = ["SUPERSAMPLE", "Adherence", "check_clip", "prompt_check", "shape_masks"]

_REF = 32  # measurements are reported in pixels of a 32x32 frame
_MIN_TRAVEL = 2.5  # px over the clip: less than this counts as "still"
SUPERSAMPLE = 4  # coverage is averaged over SUPERSAMPLE x SUPERSAMPLE samples per pixel


@dataclass(frozen=True)
class Adherence:
    colour: str | None
    shape: str | None
    displacement: tuple[float, float]  # (dx, dy) over the clip, in 32-frame pixels
    motion: str | None
    colour_ok: bool | None
    shape_ok: bool | None
    motion_ok: bool | None

    @property
    def passed(self) -> bool:
        """Every attribute the prompt named was found (unnamed ones are not checked)."""
        return all(ok is not False for ok in (self.colour_ok, self.shape_ok, self.motion_ok))


def shape_masks(shape: str, cx: np.ndarray, cy: np.ndarray, extent: np.ndarray, size: int) -> np.ndarray:
    """Anti-aliased coverage in [0, 1] of ``shape`` at each (cx, cy, extent): shape (N, size, size).

    The training clips are rendered with it, and the checker fits it as a template.
    """
    n = len(cx)
    s = SUPERSAMPLE
    coords = (np.arange(size * s, dtype=np.float32) + 0.5) / s
    ys = coords[None, :, None]
    xs = coords[None, None, :]
    cx = cx.astype(np.float32)[:, None, None]
    cy = cy.astype(np.float32)[:, None, None]
    r = (extent.astype(np.float32) / 2)[:, None, None]
    if shape == "circle":
        inside = (xs - cx) ** 2 + (ys - cy) ** 2 <= r**2
    elif shape == "square":
        inside = (np.abs(xs - cx) <= r) & (np.abs(ys - cy) <= r)
    elif shape == "triangle":
        top = cy - r
        inside = (ys >= top) & (ys <= cy + r) & (np.abs(xs - cx) <= (ys - top) / 2)
    else:
        raise ValueError(shape)
    return cast(np.ndarray, inside.reshape(n, size, s, size, s).mean(axis=(2, 4)))


def _foreground(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Masks (T, H, W) of pixels unlike the background, and a per-pixel distance map."""
    f = frames.astype(np.float32)
    border = np.concatenate([f[:, 0], f[:, -1], f[:, :, 0], f[:, :, -1]], axis=1).reshape(-1, 3)
    bg = np.median(border, axis=0)
    dist = np.linalg.norm(f - bg, axis=-1)
    return dist > 60.0, dist


def _classify_shape(alpha: np.ndarray) -> tuple[str | None, float, float]:
    """Best-fitting shape for one frame's coverage map, and the coverage centroid (x, y).

    Each template is sized from the measured area and placed at the measured centroid, then
    compared pixel by pixel: a matched filter for the renderer's own coverage model.
    """
    area = float(alpha.sum())
    if area < 6:
        return None, 0.0, 0.0
    size = alpha.shape[0]
    grid = np.arange(size, dtype=np.float32) + 0.5
    cx = float((alpha.sum(axis=0) * grid).sum() / area)
    cy = float((alpha.sum(axis=1) * grid).sum() / area)
    extents = {"circle": 2 * np.sqrt(area / np.pi), "square": np.sqrt(area), "triangle": np.sqrt(2 * area)}
    best, best_err = None, np.inf
    for shape in SHAPES:
        extent = extents[shape]
        # A triangle's centroid sits a sixth of its height below its bounding-box centre.
        centre_y = cy - extent / 6 if shape == "triangle" else cy
        template = shape_masks(shape, np.array([cx]), np.array([centre_y]), np.array([extent]), size)[0]
        err = float(np.abs(template - alpha).sum() / area)
        if err < best_err:
            best, best_err = shape, err
    return (best if best_err < 0.8 else None), cx, cy


def check_clip(frames: np.ndarray, attrs: Attributes) -> Adherence:
    """Measure ``frames`` against ``attrs``."""
    if frames.shape[1] != _REF or frames.shape[2] != _REF:
        frames = np.stack(
            [np.asarray(Image.fromarray(f).resize((_REF, _REF), Image.Resampling.BILINEAR)) for f in frames]
        )
    masks, dist = _foreground(frames)
    visible = masks.sum(axis=(1, 2)) >= 6
    if visible.sum() < max(2, len(frames) // 2):
        return Adherence(
            None,
            None,
            (0.0, 0.0),
            None,
            False if attrs.colour else None,
            False if attrs.shape else None,
            False if attrs.motion else None,
        )
    full = np.percentile(dist[masks], 90)
    core = masks & (dist >= 0.8 * full)
    mean = frames[core].astype(np.float32).mean(axis=0)
    names = list(COLOURS)
    colour = names[int(np.argmin([np.linalg.norm(mean - np.array(COLOURS[n])) for n in names]))]

    alpha = np.clip(dist / max(full, 1.0), 0.0, 1.0) * (dist > 30.0)
    votes: dict[str, int] = {}
    ts, xs, ys = [], [], []
    for t in np.nonzero(visible)[0]:
        shape, cx, cy = _classify_shape(alpha[t])
        if shape:
            votes[shape] = votes.get(shape, 0) + 1
        ts.append(int(t))
        xs.append(cx)
        ys.append(cy)
    shape_found = max(votes, key=lambda k: votes[k]) if votes else None
    span = len(frames) - 1
    dx = float(np.polyfit(ts, xs, 1)[0] * span) if len(ts) > 1 else 0.0
    dy = float(np.polyfit(ts, ys, 1)[0] * span) if len(ts) > 1 else 0.0
    if max(abs(dx), abs(dy)) < _MIN_TRAVEL:
        motion = "still"
    elif abs(dx) >= abs(dy):
        motion = "right" if dx > 0 else "left"
    else:
        motion = "down" if dy > 0 else "up"
    if motion != "still" and min(abs(dx), abs(dy)) > 0.5 * max(abs(dx), abs(dy)):
        motion = "diagonal"
    return Adherence(
        colour=colour,
        shape=shape_found,
        displacement=(round(dx, 2), round(dy, 2)),
        motion=motion,
        colour_ok=None if attrs.colour is None else colour == attrs.colour,
        shape_ok=None if attrs.shape is None else shape_found == attrs.shape,
        motion_ok=None if attrs.motion is None else motion == attrs.motion,
    )


def prompt_check(frames: np.ndarray, prompt: str) -> tuple[dict[str, Any], list[QcFlag]]:
    """QC's ``"shapes"`` prompt check: :func:`check_clip` against what ``prompt`` asks for, as the
    report's ``adherence`` and an ``off_prompt`` flag naming what is wrong (none when it passed)."""
    attrs = parse_prompt(prompt)
    result = check_clip(frames, attrs)
    adherence = {
        "passed": result.passed,
        "colour": result.colour,
        "shape": result.shape,
        "motion": result.motion,
        "displacement": list(result.displacement),
        "colour_ok": result.colour_ok,
        "shape_ok": result.shape_ok,
        "motion_ok": result.motion_ok,
    }
    if result.passed:
        return adherence, []
    wrong = [
        f"{name} is {found} (asked {asked})"
        for name, found, asked, ok in (
            ("colour", result.colour, attrs.colour, result.colour_ok),
            ("shape", result.shape, attrs.shape, result.shape_ok),
            ("motion", result.motion, attrs.motion, result.motion_ok),
        )
        if ok is False
    ]
    message = "the clip does not show what the prompt asks: " + "; ".join(wrong)
    return adherence, [QcFlag("off_prompt", message)]
