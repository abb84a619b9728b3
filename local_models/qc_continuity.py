"""Continuity across a cut: does the next shot pick up where the last one left off?

Compares the last frame of one shot with the first frame of the next, both scaled to 64x64: the
lighting (mean luma), the palette (Hellinger distance between 4x4x4-bin RGB histograms of lightly
blurred frames) and, when both frames have a main subject (:func:`local_models.qc_subject.find_subject`),
its colour and size. A planned cut may reframe (a close-up after a wide shot), so only a change of
subject colour, a size change past ``cut_subject_area_ratio``, or a lighting or palette jump is a
``continuity_jump``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from .qc import SCENE_THRESHOLDS, QcFlag
from .qc_subject import find_subject

__all__ = ["continuity", "cut_qc"]

_SIDE = 64
_BINS = 4


def _prepared(frame: np.ndarray) -> np.ndarray:
    import cv2

    small = cv2.resize(np.ascontiguousarray(frame), (_SIDE, _SIDE), interpolation=cv2.INTER_AREA)
    return np.asarray(small)


def _histogram(frame: np.ndarray) -> np.ndarray:
    import cv2

    smooth = cv2.GaussianBlur(frame, (5, 5), 1.0)
    bins = (smooth.reshape(-1, 3).astype(np.int32) * _BINS) // 256
    index = (bins[:, 0] * _BINS + bins[:, 1]) * _BINS + bins[:, 2]
    counts = np.bincount(index, minlength=_BINS**3).astype(np.float64)
    return np.asarray(counts / counts.sum())


def _luma(frame: np.ndarray) -> float:
    return float((frame[..., 0] * 0.299 + frame[..., 1] * 0.587 + frame[..., 2] * 0.114).mean())


def continuity(
    a_last: np.ndarray, b_first: np.ndarray, *, a: str = "the shot before", b: str = "the next shot"
) -> tuple[dict[str, float], list[QcFlag]]:
    """Scores and a ``continuity_jump`` flag (naming ``a`` and ``b``) for the cut from ``a_last``
    (uint8 (H, W, 3), the last frame of one shot) to ``b_first`` (the first frame of the next)."""
    t = SCENE_THRESHOLDS
    fa, fb = _prepared(a_last), _prepared(b_first)
    luma_a, luma_b = _luma(fa), _luma(fb)
    hellinger = float(np.sqrt(max(0.0, 1.0 - np.sqrt(_histogram(fa) * _histogram(fb)).sum())))
    scores: dict[str, float] = {
        "cut_luma_jump": round(abs(luma_b - luma_a), 1),
        "cut_palette_distance": round(hellinger, 3),
    }
    reasons = []
    if abs(luma_b - luma_a) > t["cut_luma_jump"]:
        change = "brightens" if luma_b > luma_a else "darkens"
        reasons.append(f"the lighting {change} (mean brightness {luma_a:.0f} -> {luma_b:.0f} on 0-255)")
    if hellinger > t["cut_palette_distance"]:
        reasons.append(f"the colours change (palette distance {hellinger:.2f})")
    sa, sb = find_subject(fa), find_subject(fb)
    if sa is not None and sb is not None:
        colour = float(np.linalg.norm(np.subtract(sa.colour, sb.colour)))
        ratio = max(sa.area, sb.area) / min(sa.area, sb.area)
        scores["cut_subject_colour_jump"] = round(colour, 1)
        scores["cut_subject_area_ratio"] = round(ratio, 2)
        if colour > t["cut_subject_colour_jump"]:
            reasons.append(f"the main subject's colour changes (RGB distance {colour:.0f} of at most 441)")
        if ratio > t["cut_subject_area_ratio"]:
            reasons.append(f"the main subject's size changes {ratio:.1f}x")
    if not reasons:
        return scores, []
    message = f"{a} -> {b}: " + "; ".join(reasons) + ": the shots do not connect"
    return scores, [QcFlag("continuity_jump", message)]


def _label(position: int, prompt: str | None) -> str:
    if not prompt:
        return f"shot {position}"
    text = " ".join(prompt.split())
    return f"shot {position} ({(text if len(text) <= 60 else text[:57] + '...')!r})"


def cut_qc(
    shots: Sequence[tuple[str, int, str | None, np.ndarray | None, np.ndarray | None]],
) -> dict[str, Any]:
    """Continuity of a cut: ``shots`` in order as (shot id, position, prompt, first frame, last frame);
    a shot whose frames could not be read (None) is skipped at both its cuts.

    ``{"flags": [{"code", "message", "shots": [id_a, id_b]}], "scores": [{"shots": [...], ...}]}``.
    """
    flags: list[dict[str, Any]] = []
    scores: list[dict[str, Any]] = []
    for (id_a, pos_a, prompt_a, _, last), (id_b, pos_b, prompt_b, first, _) in itertools.pairwise(shots):
        if last is None or first is None:
            continue
        found_scores, found = continuity(last, first, a=_label(pos_a, prompt_a), b=_label(pos_b, prompt_b))
        scores.append({"shots": [id_a, id_b], **found_scores})
        flags += [{**f.as_dict(), "shots": [id_a, id_b]} for f in found]
    return {"flags": flags, "scores": scores}
