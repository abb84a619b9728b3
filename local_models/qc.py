"""Quality checks for any clip (no model weights): temporal consistency, flicker, motion, frozen and
blank frames, and prompt adherence for models that name a prompt check (``ModelSpec.prompt_check``);
then the scene checks, each in its own module: object consistency (:mod:`.qc_subject`), visual
hierarchy (:mod:`.qc_hierarchy`), audio-visual sync for clips with sound (:mod:`.qc_sync`), and, between
adjacent shots of a cut, continuity (:mod:`.qc_continuity`).

Each check has a documented threshold and a plain-language flag. Frames are uint8 (T, H, W, 3).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "PROMPT_CHECKS",
    "SCENE_THRESHOLDS",
    "THRESHOLDS",
    "PromptCheck",
    "QcFlag",
    "QcReport",
    "blank_mask",
    "changed_fraction",
    "check_frames",
    "luma_stats",
    "prompt_checker",
]

# The thresholds, in one place (documented in the README).
THRESHOLDS = {
    "consistency_min": 0.35,  # mean SSIM of consecutive frames below this: the clip "boils"
    "flicker_max": 4.0,  # std of frame-to-frame brightness changes (0-255 luma) above this
    "motion_min": 0.002,  # mean optical-flow magnitude, as a fraction of the frame diagonal per frame
    "frozen_fraction": 0.5,  # more than half the consecutive pairs (near-)identical
    # two frames are the same when under 0.2% of pixels change by more than 8 in any channel
    "duplicate_changed": 0.002,
    "blank_luma": 10.0,  # frame mean luma under this, with almost no detail, is blank
    "blank_std": 3.0,
}

# The scene checks' thresholds (documented in the README beside THRESHOLDS). Each flag fires strictly
# past its threshold.
SCENE_THRESHOLDS = {
    # object consistency (qc_subject): the main subject between two steady stretches of 3 frames
    "subject_area_jump": 1.6,  # its area changes by more than this factor from one stretch to the next
    "subject_colour_jump": 60.0,  # its median colour moves by more than this (RGB distance, 0-255)
    "subject_shape_jump": 0.12,  # the share it fills of the smallest rectangle around it, at any angle
    "subject_lost_frames": 2,  # more than this many frames without it, mid-shot (not leaving the frame)
    # audio-visual sync (qc_sync), clips with sound only
    "av_drift_ms": 120.0,  # the sound's onset this far (ms) from the motion's onset, either way
    "av_search_ms": 1000.0,  # sound onsets this far from the motion's onset are looked for
    # visual hierarchy (qc_hierarchy)
    "focal_points_max": 4,  # more than this many separate, comparably strong salient regions
    # continuity across a cut (qc_continuity): last frame of one shot, first frame of the next
    "cut_luma_jump": 30.0,  # mean brightness changes by more than this (0-255)
    "cut_palette_distance": 0.45,  # colour histograms' Hellinger distance (0: same, 1: disjoint)
    "cut_subject_colour_jump": 80.0,  # the subject's median colour moves by more than this (RGB)
    "cut_subject_area_ratio": 4.0,  # the subject's area changes by more than this factor
}


@dataclass(frozen=True)
class QcFlag:
    """A finding: a ``code``, a plain-language ``message`` and, when it is in part of the clip, the
    ``frames`` where it is (first and last, 0-based in the clip's own frame numbering)."""

    code: str
    message: str
    frames: tuple[int, int] | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.frames is not None:
            out["frames"] = [int(self.frames[0]), int(self.frames[1])]
        return out


@dataclass(frozen=True)
class QcReport:
    scores: dict[str, float]
    flags: list[QcFlag] = field(default_factory=list)
    adherence: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "scores": self.scores,
            "flags": [f.as_dict() for f in self.flags],
            "adherence": self.adherence,
            "passed": not self.flags,
        }


PromptCheck = Callable[[np.ndarray, str], tuple[dict[str, Any], list[QcFlag]]]
"""A prompt-adherence checker: ``(frames, prompt) -> (the report's "adherence", flags to add)``."""

# Prompt-adherence checkers by name (what ``ModelSpec.prompt_check`` says). A "module:function" string
# is imported on first use, so importing this module loads no model family.
PROMPT_CHECKS: dict[str, PromptCheck | str] = {
    "shapes": "local_models.shapes.adherence:prompt_check",
}


def prompt_checker(name: str) -> PromptCheck:
    """The prompt-adherence checker called ``name``; ``ValueError`` names the known ones."""
    try:
        check = PROMPT_CHECKS[name]
    except KeyError:
        known = ", ".join(sorted(PROMPT_CHECKS))
        raise ValueError(f"unknown prompt check {name!r} (known: {known})") from None
    if isinstance(check, str):
        module, _, function = check.partition(":")
        check = PROMPT_CHECKS[name] = getattr(importlib.import_module(module), function)
    return check


def _gray(frames: np.ndarray) -> np.ndarray:
    return (frames[..., 0] * 0.299 + frames[..., 1] * 0.587 + frames[..., 2] * 0.114).astype(np.float32)


def _ssim(a: np.ndarray, b: np.ndarray) -> float:
    import cv2

    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    blur: Callable[[np.ndarray], np.ndarray] = lambda x: cv2.GaussianBlur(x, (7, 7), 1.5)  # noqa: E731
    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    ssim = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return float(ssim.mean())


def _flow(a: np.ndarray, b: np.ndarray) -> float:
    """Mean Farneback flow magnitude, on whichever colour channel moves most (iso-luminant colours
    vanish in grayscale: a red shape on a gray ground has almost the same luma)."""
    import cv2

    best = 0.0
    for c in range(3):
        flow = cv2.calcOpticalFlowFarneback(a[..., c], b[..., c], None, 0.5, 3, 9, 3, 5, 1.1, 0)  # type: ignore[call-overload]
        best = max(best, float(np.linalg.norm(flow, axis=-1).mean()))
    return best


def _small(frames: np.ndarray, max_side: int = 256) -> np.ndarray:
    """QC needs structure, not detail: work on at most ``max_side`` pixels a side."""
    import cv2

    h, w = frames.shape[1:3]
    scale = max_side / max(h, w)
    if scale >= 1:
        return frames
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = np.empty((len(frames), size[1], size[0], 3), dtype=frames.dtype)
    for i, f in enumerate(frames):
        small[i] = cv2.resize(f, size, interpolation=cv2.INTER_AREA)
    return small


def changed_fraction(a: np.ndarray, b: np.ndarray) -> float:
    """The share of pixels that change by more than 8 in any channel between two int16 frames."""
    return float((np.abs(a - b).max(axis=-1) > 8).mean())


def luma_stats(frame: np.ndarray) -> tuple[float, float]:
    """A frame's mean and standard deviation of luma (0-255)."""
    gray = _gray(frame)
    return float(gray.mean()), float(gray.std())


def blank_mask(means: np.ndarray, stds: np.ndarray) -> np.ndarray:
    """Which frames are blank: dark (``blank_luma``) with almost no detail (``blank_std``)."""
    return (means < THRESHOLDS["blank_luma"]) & (stds < THRESHOLDS["blank_std"])


def _measure(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[float], list[float], list[float]]:
    """Each frame's luma mean and std; for each consecutive pair, the fraction of changed pixels, the
    SSIM and the optical flow.

    One pass over consecutive pairs, holding two frames' working copies at a time (never a
    whole-clip int16 or float copy): the clip can be up to the caller's frame cap long.
    """
    means = np.empty(len(frames), dtype=np.float32)
    stds = np.empty(len(frames), dtype=np.float32)
    changed: list[float] = []
    ssims: list[float] = []
    flows: list[float] = []
    prev_gray: np.ndarray | None = None
    prev_colour: np.ndarray | None = None
    for i, frame in enumerate(frames):
        gray = _gray(frame)
        colour = frame.astype(np.int16)
        means[i], stds[i] = gray.mean(), gray.std()
        if prev_gray is not None and prev_colour is not None:
            changed.append(changed_fraction(prev_colour, colour))
            ssims.append(_ssim(prev_gray, gray))
            flows.append(_flow(frames[i - 1], frame))
        prev_gray, prev_colour = gray, colour
    return means, stds, changed, ssims, flows


def check_frames(
    frames: np.ndarray,
    *,
    prompt: str | None = None,
    wants_motion: bool | None = None,
    prompt_check: str | None = None,
    audio: np.ndarray | None = None,
    sample_rate: int | None = None,
    fps: float | None = None,
) -> QcReport:
    """Score a clip and flag what a creator would want to know before using it.

    ``wants_motion``: whether the prompt asks for movement (True: ``low_motion`` can be flagged; False:
    it asks for stillness, so an unchanging clip is not ``frozen``; None: unknown);
    ``prompt_check``: the name of the model's prompt-adherence checker (:data:`PROMPT_CHECKS`), run
    when there is a prompt; its findings are the report's ``adherence`` and its flags are added;
    ``audio`` (samples, or ``(channels, samples)``) at ``sample_rate``: the clip's sound, starting with
    its first frame; with it, audio-visual sync is checked (``fps``, if not given, is taken from the
    sound lasting as long as the picture, as :func:`local_models.video.encode_mp4` muxes it).
    """
    from .qc_hierarchy import check_hierarchy
    from .qc_subject import check_subject
    from .qc_sync import check_sync

    original = frames
    frames = _small(frames)
    scores, flags, blank = _basic(frames, prompt=prompt, wants_motion=wants_motion)
    for found_scores, found_flags in (
        check_subject(frames, blank=blank),
        check_hierarchy(frames),
        check_sync(frames, audio, sample_rate, fps) if audio is not None and sample_rate else ({}, []),
    ):
        scores.update(found_scores)
        flags.extend(found_flags)
    adherence: dict[str, Any] | None = None
    if prompt_check and prompt:
        adherence, found = prompt_checker(prompt_check)(original, prompt)
        flags.extend(found)
    return QcReport(scores, flags, adherence)


def _span(indices: np.ndarray | list[int], extra: int = 0) -> tuple[int, int] | None:
    """The first and last of ``indices`` (the last plus ``extra``), or None if there are none."""
    if len(indices) == 0:
        return None
    return int(np.min(indices)), int(np.max(indices)) + extra


def _basic(
    frames: np.ndarray, *, prompt: str | None, wants_motion: bool | None
) -> tuple[dict[str, Any], list[QcFlag], np.ndarray]:
    """The per-frame checks: scores, flags and which frames are blank."""
    t = THRESHOLDS
    h, w = frames.shape[1:3]
    diagonal = float(np.hypot(h, w))
    means, stds, changed, ssims, flows = _measure(frames)
    consistency = float(np.mean(ssims)) if ssims else 1.0
    flicker = float(np.std(np.diff(means))) if len(means) > 2 else 0.0
    motion = float(np.mean(flows)) / diagonal if len(frames) > 1 else 0.0
    diffs = changed
    duplicate_pairs = [i for i, c in enumerate(changed) if c < t["duplicate_changed"]]
    duplicates = len(duplicate_pairs)
    frozen = duplicates / len(diffs) if diffs else 1.0
    blanks = blank_mask(means, stds)
    blank = int(np.sum(blanks))
    scores: dict[str, Any] = {
        "temporal_consistency": round(consistency, 4),
        "flicker": round(flicker, 3),
        "motion": round(motion, 5),
        "frozen_fraction": round(frozen, 3),
        "blank_frames": blank,
        "frames": len(frames),
    }
    flags: list[QcFlag] = []
    if frozen > t["frozen_fraction"] and wants_motion is not False:
        flags.append(
            QcFlag(
                "frozen",
                f"{duplicates} of {len(diffs)} frame changes show no change at all: "
                "the clip is frozen or stutters",
                _span(duplicate_pairs, extra=1) or (0, len(frames) - 1),
            )
        )
    if flicker > t["flicker_max"]:
        flags.append(
            QcFlag(
                "flicker",
                f"brightness jumps between frames (jitter {flicker:.1f} on a 0-255 scale): visible flicker",
            )
        )
    if blank:
        flags.append(
            QcFlag(
                "blank_frames",
                f"{blank} of {len(frames)} frames are blank or nearly black",
                _span(np.flatnonzero(blanks)),
            )
        )
    if consistency < t["consistency_min"] and frozen <= t["frozen_fraction"]:
        flags.append(
            QcFlag(
                "inconsistent",
                f"consecutive frames share little structure (SSIM {consistency:.2f}): "
                "objects change shape or appear and vanish",
            )
        )
    if wants_motion and motion < t["motion_min"]:
        asked = f" although the prompt asks for it ({prompt!r})" if prompt else ""
        flags.append(QcFlag("low_motion", f"little motion{asked}"))
    return scores, flags, blanks
