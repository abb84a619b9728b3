"""The hard defects a take's bill waits for: cheap checks, run on the decoded frames before the job
settles (the full report of :mod:`local_models.qc`, with optical flow, lands a moment later).

A hard defect makes a take unusable whatever the creator meant: the clip is mostly blank, it is
frozen although the prompt asks for motion, or a model with a prompt check rendered something else
(``off_prompt``). Soft findings (flicker, low consistency, little motion) are never hard.
Frames are uint8 (T, H, W, 3), at most 256 pixels a side (as :func:`read_frames_bounded` decodes them).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

import numpy as np

from .qc import THRESHOLDS, QcFlag, blank_mask, changed_fraction, luma_stats, prompt_checker

__all__ = ["HARD_BLANK_FRACTION", "Screening", "asks_for_dark", "screen_frames"]

HARD_BLANK_FRACTION = 0.4  # blank frames are a hard defect from 40% of the clip (a blank second half)


@dataclass(frozen=True)
class Screening:
    """The hard defects found (``defects``; empty: the take is billable) and what was measured."""

    defects: list[QcFlag]
    scores: dict[str, float]


def _blank_frames(frames: np.ndarray) -> int:
    stats = np.array([luma_stats(frame) for frame in frames], dtype=np.float32).reshape(-1, 2)
    return int(np.sum(blank_mask(stats[:, 0], stats[:, 1])))


def _frozen_fraction(frames: np.ndarray) -> float:
    """The share of consecutive pairs that are (near-)identical, as ``check_frames`` counts them."""
    if len(frames) < 2:
        return 0.0  # a still image cannot be frozen
    same = sum(
        changed_fraction(a.astype(np.int16), b.astype(np.int16)) < THRESHOLDS["duplicate_changed"]
        for a, b in itertools.pairwise(frames)
    )
    return same / (len(frames) - 1)


# A prompt that asks for a black picture gets it: its blank frames are not a defect (nor a refund).
# Only the picture itself going dark counts, not a dark object ("a black cat", "a dark dress").
_DARK = re.compile(
    r"\b(black ?screen|blackness|blackout|pitch[- ]black|(in|into) (the )?(dark|darkness)|darkness"
    r"|(fades?|fading|cuts?|goes|going) (out|to black|dark)|lights? (go|goes|going) out)\b",
    re.I,
)


def asks_for_dark(prompt: str) -> bool:
    """Whether ``prompt`` asks for the picture to be black (a black screen, darkness, a fade or cut to
    black), which looks like blank frames."""
    return bool(_DARK.search(prompt))


def screen_frames(
    frames: np.ndarray, *, prompt: str, wants_motion: bool | None, prompt_check: str | None
) -> Screening:
    """The hard defects of a decoded clip.

    ``wants_motion``: whether the prompt asks for movement (only True makes a frozen clip a defect);
    ``prompt_check``: the model's prompt-adherence checker, whose ``off_prompt`` finding is hard.
    """
    count = len(frames)
    blank = _blank_frames(frames) if count else 0
    frozen = _frozen_fraction(frames)
    defects: list[QcFlag] = []
    if count == 0 or (blank >= HARD_BLANK_FRACTION * count and not asks_for_dark(prompt)):
        defects.append(QcFlag("blank_frames", f"{blank} of {count} frames are blank or nearly black"))
    elif wants_motion and frozen > THRESHOLDS["frozen_fraction"]:
        defects.append(
            QcFlag(
                "frozen",
                f"the clip does not move ({frozen:.0%} of frame changes show nothing), "
                "although the prompt asks for motion",
            )
        )
    if prompt_check and count and not any(d.code == "blank_frames" for d in defects):
        _, found = prompt_checker(prompt_check)(frames, prompt)
        defects.extend(f for f in found if f.code == "off_prompt")
    scores = {"frames": count, "blank_frames": blank, "frozen_fraction": round(frozen, 3)}
    return Screening(defects, scores)
