"""Visual hierarchy: does the picture have a clear focal point, or do many elements compete for the eye?

Saliency is centre-surround colour contrast: each pixel's distance in CIE Lab between the lightly
blurred frame and a heavily blurred one (the surround, a sixth of the frame across), on frames at most
64 pixels a side. Salient regions are those above 40% of the frame's strongest contrast (and at least
20); a region's strength is its summed contrast. The focal points are the regions at least a third as
strong as the strongest: a subject with a few small details around it has one or two, a crowd of equally
loud elements has many. A frame whose contrast is everywhere (median over a fifth of the strongest:
noise, a dense texture) has no region that can stand out and is not counted. Counted on three frames (a
quarter, half and three quarters in); the median is the score, and ``cluttered`` is flagged past
``focal_points_max``.
"""

from __future__ import annotations

import numpy as np

from .qc import SCENE_THRESHOLDS, QcFlag

__all__ = ["check_hierarchy", "focal_points", "saliency"]

_SIDE = 64
_LEVEL = 0.3  # salient: above this share of the frame's strongest contrast
_CONTRAST_MIN = 20.0  # ... and above this Lab distance (flat or faint frames have no focal point)
_COMPETING = 0.25  # a region competes when it is at least this share as strong as the strongest
_MIN_PIXELS = 3  # regions smaller than this (on the 64-pixel frame) are specks, not focal points
_TEXTURE = 0.2  # a frame whose median contrast is over this share of its strongest is all texture


def saliency(frame: np.ndarray) -> np.ndarray:
    """Centre-surround Lab contrast of a uint8 (H, W, 3) frame, on a copy at most 64 pixels a side."""
    import cv2

    h, w = frame.shape[:2]
    scale = min(1.0, _SIDE / max(h, w))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = cv2.resize(frame, size, interpolation=cv2.INTER_AREA) if scale < 1 else frame
    lab = cv2.cvtColor(np.ascontiguousarray(small), cv2.COLOR_RGB2LAB).astype(np.float32)
    centre = cv2.GaussianBlur(lab, (0, 0), 1.0)
    surround = cv2.GaussianBlur(lab, (0, 0), max(size) / 6)
    return np.asarray(np.linalg.norm(centre - surround, axis=-1))


def focal_points(frame: np.ndarray) -> int | None:
    """How many separate, comparably strong salient regions a uint8 (H, W, 3) frame has; None for a
    frame whose contrast is everywhere (noise, a dense texture), where no region can stand out."""
    import cv2

    contrast = saliency(frame)
    strongest = float(contrast.max())
    if strongest <= _CONTRAST_MIN:
        return 0
    if float(np.median(contrast)) > _TEXTURE * strongest:
        return None
    mask = (contrast > max(_CONTRAST_MIN, _LEVEL * strongest)).astype(np.uint8)
    count, labels = cv2.connectedComponents(mask, connectivity=8)
    if count < 2:
        return 0
    strength = np.bincount(labels.ravel(), weights=contrast.ravel(), minlength=count)[1:]
    size = np.bincount(labels.ravel(), minlength=count)[1:]
    strength = np.where(size >= _MIN_PIXELS, strength, 0.0)
    if strength.max() <= 0:
        return 0
    return int(np.sum(strength >= _COMPETING * strength.max()))


def check_hierarchy(frames: np.ndarray) -> tuple[dict[str, float], list[QcFlag]]:
    """Visual hierarchy of a uint8 (T, H, W, 3) clip: the focal-point count, and ``cluttered``."""
    if len(frames) == 0:
        return {}, []
    picks = sorted({round(q * (len(frames) - 1)) for q in (0.25, 0.5, 0.75)})
    counts = [c for i in picks if (c := focal_points(frames[i])) is not None]
    if not counts:
        return {}, []
    count = int(np.median(counts))
    scores: dict[str, float] = {"focal_points": count}
    if count <= SCENE_THRESHOLDS["focal_points_max"]:
        return scores, []
    message = (
        f"{count} elements compete for attention with no clear focal point: "
        "too many simultaneous elements (describe fewer, and say which one matters)"
    )
    return scores, [QcFlag("cluttered", message, (picks[0], picks[-1]))]
