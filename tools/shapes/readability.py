"""Does a frame read as the shape asked for? Intersection over union with the ideal shape.

Stricter than the adherence checker (which only asks which of three templates fits best, at 32x32):
per frame of the output at its own size, the subject is segmented (pixels closer to the subject's
colour than to the background's), the ideal shape asked for is placed at the subject's centroid with
the subject's area (``shape_masks``, the renderer of the training clips), and the two masks' IoU is
taken. A clip's score is its mean over frames (a frame with no subject scores 0). A clip *reads as*
its shape (:func:`readability`) when that score is at least :data:`THRESHOLD` and higher than the
score of every other shape in the vocabulary.

Why :data:`THRESHOLD` is 0.88: two *different* ideal shapes fitted this way overlap a lot (a square
scores 0.83 against a circle of the same area and centroid, a triangle 0.69), so a bar at or below
0.83 would pass a square drawn for a circle. 0.88 leaves room for a soft, one-pixel-at-32 edge and
no more; the best-fit rule catches what sits between two shapes (a square with corners rounded
enough to score 0.9 against both a square and a circle does not read as a square). A viewer calls
what passes both "clearly that shape".
"""

from __future__ import annotations

import numpy as np

from local_models.shapes.adherence import shape_masks
from local_models.shapes.vocab import BACKGROUNDS, SHAPES, Attributes

__all__ = [
    "THRESHOLD",
    "clip_iou",
    "fitted_coverage",
    "frame_iou",
    "frame_ious",
    "ideal_mask",
    "readability",
    "shape_ious",
    "subject_mask",
]

THRESHOLD = 0.88
_MIN_AREA_32 = 6.0  # subject pixels in a 32x32 frame below which the frame counts as empty


def subject_mask(frame: np.ndarray, background: tuple[int, int, int] | None = None) -> np.ndarray:
    """Boolean (H, W) mask of the pixels that differ from the background colour.

    ``background`` defaults to the median of the frame's border. A pixel is subject when it is over
    halfway from the background to the subject's own colour (the 90th percentile of the distances of
    the clearly non-background pixels): the edge of an anti-aliased shape at 50% coverage.
    """
    f = frame.astype(np.float32)
    if background is None:
        border = np.concatenate([f[0], f[-1], f[:, 0], f[:, -1]])
        bg = np.median(border, axis=0)
    else:
        bg = np.asarray(background, dtype=np.float32)
    dist = np.linalg.norm(f - bg, axis=-1)
    candidates = dist[dist > 30.0]
    if candidates.size == 0:
        return np.zeros(dist.shape, dtype=bool)
    return np.asarray(dist > 0.5 * float(np.percentile(candidates, 90)))


def fitted_coverage(shape: str, cx: float, cy: float, area: float, size: int) -> np.ndarray:
    """Coverage (size, size) of the ideal ``shape`` with centroid (``cx``, ``cy``) and ``area`` (px)."""
    extents = {"circle": 2 * np.sqrt(area / np.pi), "square": np.sqrt(area), "triangle": np.sqrt(2 * area)}
    extent = float(extents[shape])
    # A triangle's centroid sits a sixth of its height below its bounding-box centre.
    centre_y = cy - extent / 6 if shape == "triangle" else cy
    return shape_masks(shape, np.array([cx]), np.array([centre_y]), np.array([extent]), size)[0]


def ideal_mask(shape: str, mask: np.ndarray) -> np.ndarray:
    """The ideal ``shape`` with the centroid and area of ``mask``, as a boolean mask of its size."""
    ys, xs = np.nonzero(mask)
    cx, cy = float(xs.mean()) + 0.5, float(ys.mean()) + 0.5
    return np.asarray(fitted_coverage(shape, cx, cy, float(mask.sum()), mask.shape[0]) >= 0.5)


def frame_ious(frame: np.ndarray, background: tuple[int, int, int] | None = None) -> dict[str, float]:
    """IoU of one (H, W, 3) frame's subject with each ideal shape fitted to it (0 when empty)."""
    mask = subject_mask(frame, background)
    if mask.sum() < _MIN_AREA_32 * (mask.shape[0] / 32) ** 2:
        return dict.fromkeys(SHAPES, 0.0)
    out = {}
    for shape in SHAPES:
        ideal = ideal_mask(shape, mask)
        out[shape] = float((mask & ideal).sum() / max(1, (mask | ideal).sum()))
    return out


def frame_iou(frame: np.ndarray, shape: str, background: tuple[int, int, int] | None = None) -> float:
    """IoU of one (H, W, 3) frame's subject with the ideal ``shape`` fitted to it (0 when empty)."""
    return frame_ious(frame, background)[shape]


def shape_ious(frames: np.ndarray, attrs: Attributes) -> dict[str, float]:
    """Mean over the (T, H, W, 3) uint8 frames of :func:`frame_ious`, on ``attrs``' background."""
    background = BACKGROUNDS[attrs.background] if attrs.background else None
    per_frame = [frame_ious(f, background) for f in frames]
    return {shape: float(np.mean([p[shape] for p in per_frame])) for shape in SHAPES}


def clip_iou(frames: np.ndarray, attrs: Attributes) -> float:
    """Mean IoU over the (T, H, W, 3) uint8 frames with the shape ``attrs`` asks."""
    return shape_ious(frames, attrs)[attrs.shape or "circle"]


def readability(frames: np.ndarray, attrs: Attributes) -> tuple[float, bool]:
    """The clip's IoU with the shape ``attrs`` asks, and whether it reads as that shape: IoU at least
    :data:`THRESHOLD` and above that of every other shape."""
    scores = shape_ious(frames, attrs)
    asked = attrs.shape or "circle"
    own = scores[asked]
    return own, own >= THRESHOLD and all(own > v for k, v in scores.items() if k != asked)
