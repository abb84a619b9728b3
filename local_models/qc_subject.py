"""Object consistency: follow the clip's main subject and flag it changing identity or vanishing mid-shot.

The main subject of a frame is the largest region that stands out from the background. The background
is modelled per frame as a smooth surface (a quadratic in x and y per colour channel) fitted to the
frame's border, so plain, gradient and vignetted grounds, and a camera that drifts over them, are all
background; a pixel belongs to the foreground when its colour is further from that surface than the
border's own texture and noise reach. Per frame the subject's area, median colour, centroid and fill
(the share of its bounding box it covers) are measured.

``subject_changed``: between two steady stretches of frames the subject's area, colour or fill jumps
(a prop that turns into another one), which smooth motion, scaling and turning never do.
``subject_lost``: a subject seen from the start of the shot is missing for a run of frames that are
not blank, although it did not leave through the frame's edge nor shrink away gradually.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .qc import SCENE_THRESHOLDS, QcFlag

__all__ = ["Subject", "check_subject", "find_subject", "track"]

WORK_SIDE = 96  # the subject is found on frames at most this many pixels a side
_RING = 1 / 24  # the border ring the background is fitted to, as a fraction of the longer side
_CONTRAST_MIN = 40.0  # a foreground pixel is at least this far (RGB distance) from the background
_MIN_FRACTION = 0.001  # a subject covers at least this share of the frame (and 4 pixels)
_MAX_FRACTION = 0.5  # a "subject" covering more than half the frame is the scene: not judged
_PRESENT = 0.2  # the subject counts as there while its area is at least this share of its usual one
_REACH = 0.04  # per frame the subject moves at most this share of the frame (plus 0.6 of its size)
_STEADY = 3  # frames on each side of a change that must agree among themselves


@dataclass(frozen=True)
class Subject:
    """The main subject in one frame: ``area`` as a share of the frame, ``colour`` (median RGB),
    ``centroid`` (x, y as shares of the width and height), ``fill`` (share of the smallest rectangle
    around it, at any angle, that it covers: a disc 0.79, a square 1, a triangle 0.5, however turned)
    and whether it touches the frame's edge (``at_edge``: partly out of the picture)."""

    area: float
    colour: tuple[float, float, float]
    centroid: tuple[float, float]
    fill: float
    at_edge: bool


def _fit_side(frame: np.ndarray, side: int = WORK_SIDE) -> np.ndarray:
    import cv2

    h, w = frame.shape[:2]
    scale = side / max(h, w)
    if scale >= 1:
        return frame
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(cv2.resize(frame, size, interpolation=cv2.INTER_AREA))


def _background_distance(frame: np.ndarray) -> tuple[np.ndarray, float]:
    """Each pixel's RGB distance from the background surface fitted to the border, and the distance
    past which a pixel is foreground (above the border's own spread)."""
    h, w = frame.shape[:2]
    rgb = frame.astype(np.float32)
    ys, xs = np.mgrid[:h, :w].astype(np.float32)
    xs, ys = xs / max(w - 1, 1) * 2 - 1, ys / max(h - 1, 1) * 2 - 1
    basis = np.stack([np.ones_like(xs), xs, ys, xs * xs, xs * ys, ys * ys], axis=-1)
    b = max(1, round(max(h, w) * _RING))
    ring = np.zeros((h, w), dtype=bool)
    ring[:b], ring[-b:], ring[:, :b], ring[:, -b:] = True, True, True, True
    a, y = basis[ring], rgb[ring]
    # Robustly: start from the border's median colour, then fit (twice) only the border pixels near
    # the current fit, so that something in front crossing the border does not bend the background.
    residual = np.linalg.norm(y - np.median(y, axis=0), axis=-1)
    for _ in range(2):
        keep = residual <= max(2.5 * float(np.median(residual)), 12.0)
        if keep.sum() < 12:
            keep[:] = True
        coef = np.linalg.lstsq(a[keep], y[keep], rcond=None)[0]
        residual = np.linalg.norm(y - a @ coef, axis=-1)
    keep = residual <= max(2.5 * float(np.median(residual)), 12.0)
    distance = np.linalg.norm(rgb - basis @ coef, axis=-1)
    spread = float(np.percentile(residual[keep], 98))
    return distance, max(_CONTRAST_MIN, 1.5 * spread + 10.0)


@dataclass(frozen=True)
class _Blobs:
    """One frame's foreground regions (OpenCV connected components) on the working-size frame."""

    frame: np.ndarray
    labels: np.ndarray
    stats: np.ndarray
    centroids: np.ndarray

    def subject(self, label: int) -> Subject:
        import cv2

        h, w = self.frame.shape[:2]
        x, y, bw, bh, area = (int(v) for v in self.stats[label])
        inside = self.labels[y : y + bh, x : x + bw] == label
        colour = np.median(self.frame[y : y + bh, x : x + bw][inside], axis=0)
        contours, _ = cv2.findContours(inside.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        (_, (rw, rh), _) = cv2.minAreaRect(np.vstack(contours))  # turning does not change it
        cx, cy = self.centroids[label]
        return Subject(
            area=area / (h * w),
            colour=(float(colour[0]), float(colour[1]), float(colour[2])),
            centroid=(float(cx) / w, float(cy) / h),
            fill=min(1.0, area / ((rw + 1) * (rh + 1))),
            at_edge=x == 0 or y == 0 or x + bw == w or y + bh == h,
        )

    def centroid(self, label: int) -> tuple[float, float]:
        h, w = self.frame.shape[:2]
        cx, cy = self.centroids[label]
        return float(cx) / w, float(cy) / h

    def candidates(self, least: float = 0.0) -> list[int]:
        """Labels of the regions large enough to be a subject (and at least ``least`` of the frame),
        largest first."""
        h, w = self.frame.shape[:2]
        areas = self.stats[1:, 4]
        big = np.flatnonzero(areas >= max(4, _MIN_FRACTION * h * w, least * h * w))
        return [int(i) + 1 for i in big[np.argsort(-areas[big], kind="stable")]]


def _blobs(frame: np.ndarray) -> _Blobs:
    import cv2

    frame = _fit_side(frame)
    distance, threshold = _background_distance(frame)
    mask = np.asarray((distance > threshold).astype(np.uint8))
    if min(frame.shape[:2]) >= 24:
        mask = np.asarray(cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8)))
    _, labels, stats, centroids = cv2.connectedComponentsWithStats(mask, connectivity=8)
    return _Blobs(frame, labels, stats, centroids)


def find_subject(frame: np.ndarray) -> Subject | None:
    """The main subject of one uint8 (H, W, 3) frame (its largest region), or None when nothing
    stands out."""
    blobs = _blobs(frame)
    labels = blobs.candidates()
    return blobs.subject(labels[0]) if labels else None


def track(frames: np.ndarray, blank: np.ndarray | None = None) -> list[Subject | None]:
    """The main subject in each frame: the largest region in the first frame that has one, then the
    largest region within reach of where it was last seen or, failing that, one that looks like it
    (colour and size) anywhere in the picture; None where there is none, or the frame is blank. A
    second object elsewhere in the picture is not mistaken for it."""
    out: list[Subject | None] = []
    last: Subject | None = None
    unseen = 0
    for i, frame in enumerate(frames):
        found = None
        if blank is None or not blank[i]:
            found = _follow(_blobs(frame), last, unseen)
        out.append(found)
        last, unseen = (found, 0) if found is not None else (last, unseen + 1)
    return out


def _follow(blobs: _Blobs, last: Subject | None, unseen: int) -> Subject | None:
    labels = blobs.candidates(0.0 if last is None else _PRESENT * last.area)
    if not labels:
        return None
    if last is None:
        return blobs.subject(labels[0])
    for label in labels:
        if _near(blobs.centroid(label), last, unseen):
            return blobs.subject(label)
    for label in labels:  # jumped elsewhere in the picture, still itself
        candidate = blobs.subject(label)
        if _alike(candidate, last):
            return candidate
    return None


def _near(centroid: tuple[float, float], last: Subject, unseen: int) -> bool:
    """Whether ``centroid`` is within reach (in shares of the frame) of where ``last`` was seen."""
    reach = _REACH + 0.6 * float(np.sqrt(last.area)) + 0.02 * unseen
    dx, dy = np.subtract(centroid, last.centroid)
    return bool(np.hypot(dx, dy) <= reach)


def _alike(candidate: Subject, last: Subject) -> bool:
    """Whether ``candidate`` has ``last``'s colour and roughly its size."""
    colour = float(np.linalg.norm(np.subtract(candidate.colour, last.colour)))
    ratio = max(candidate.area, last.area) / max(min(candidate.area, last.area), 1e-9)
    return colour <= SCENE_THRESHOLDS["subject_colour_jump"] / 2 and ratio <= 2.0


def _gap(before: np.ndarray, after: np.ndarray) -> float:
    """How far apart two stretches' ranges lie, per column (0 where they overlap), as one distance."""
    apart = np.maximum(after.min(axis=0) - before.max(axis=0), before.min(axis=0) - after.max(axis=0))
    return float(np.linalg.norm(np.maximum(apart, 0.0)))


def _largest_steps(
    index: list[int], series: dict[str, np.ndarray]
) -> dict[str, tuple[float, tuple[int, int]]]:
    """For each series (values at the frames ``index``), the largest jump between two steady
    stretches of frames and the two frames it falls between. Stretches span no gap of more than two
    frames (the subject missing is ``subject_lost``'s business)."""
    w = _STEADY if len(index) >= 4 * _STEADY else 2
    out = {name: (0.0, (-1, -1)) for name in series}
    for k in range(w, len(index) - w + 1):
        if index[k + w - 1] - index[k - w] > 2 * w + 1:
            continue
        for name, values in series.items():
            gap = _gap(values[k - w : k], values[k : k + w])
            if gap > out[name][0]:
                out[name] = (gap, (index[k - 1], index[k]))
    return out


def _changes(subjects: list[Subject | None], present: np.ndarray) -> tuple[dict[str, float], list[QcFlag]]:
    """``subject_changed``: area, colour or fill jumps between steady stretches of frames (area and
    fill only while the subject is wholly in the picture)."""
    t = SCENE_THRESHOLDS
    seen = {i: s for i, s in enumerate(subjects) if s is not None and present[i]}
    index = list(seen)
    whole = [i for i in index if not seen[i].at_edge]
    shape = _largest_steps(
        whole,
        {
            "area": np.log([seen[i].area for i in whole]).reshape(-1, 1),
            "fill": np.array([seen[i].fill for i in whole]).reshape(-1, 1),
        },
    )
    colour = _largest_steps(index, {"colour": np.array([seen[i].colour for i in index]).reshape(-1, 3)})
    area_jump = float(np.exp(shape["area"][0]))
    scores = {
        "subject_area_jump": round(area_jump, 3),
        "subject_colour_jump": round(colour["colour"][0], 1),
        "subject_shape_jump": round(shape["fill"][0], 3),
    }
    reasons: list[tuple[str, tuple[int, int]]] = []
    if area_jump > t["subject_area_jump"]:
        reasons.append((f"its size jumps {area_jump:.1f}x", shape["area"][1]))
    if colour["colour"][0] > t["subject_colour_jump"]:
        jump = colour["colour"][0]
        reasons.append((f"its colour jumps (RGB distance {jump:.0f} of at most 441)", colour["colour"][1]))
    if shape["fill"][0] > t["subject_shape_jump"]:
        reasons.append(("its outline changes", shape["fill"][1]))
    if not reasons:
        return scores, []
    first, last = min(frames for _, frames in reasons)
    what = ", ".join(r for r, _ in reasons)
    message = (
        f"the main subject changes between frames {first} and {last} ({what}): it turns into something else"
    )
    return scores, [QcFlag("subject_changed", message, (first, last))]


def _runs(missing: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) of each run of True."""
    edges = np.diff(np.concatenate([[0], missing.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1, strict=True))


def _losses(
    subjects: list[Subject | None], present: np.ndarray, blank: np.ndarray, reference: float
) -> list[QcFlag]:
    """``subject_lost``: runs of non-blank frames without the subject (blank frames in between neither
    count nor break a run), which had not left the frame or shrunk away just before."""
    t = SCENE_THRESHOLDS
    usable = np.flatnonzero(~blank)
    flags: list[QcFlag] = []
    for a, b in _runs(~present[usable]):
        before = subjects[usable[a - 1]] if a > 0 else None
        if b - a + 1 <= t["subject_lost_frames"] or before is None or not present[usable[a - 1]]:
            continue
        if before.at_edge or before.area < 0.5 * reference:  # left the picture, or shrank away
            continue
        first, last = int(usable[a]), int(usable[b])
        until = "the end" if last == len(subjects) - 1 else f"frame {last}"
        flags.append(
            QcFlag(
                "subject_lost",
                f"the main subject disappears mid-shot from frame {first} to {until} "
                f"({b - a + 1} frames) without leaving the picture",
                (first, last),
            )
        )
    return flags


def check_subject(
    frames: np.ndarray, *, blank: np.ndarray | None = None
) -> tuple[dict[str, float], list[QcFlag]]:
    """Object consistency of a uint8 (T, H, W, 3) clip; ``blank``: frames already flagged blank
    (never counted as the subject lost). No scores when no subject is seen in the shot's opening."""
    blank = np.zeros(len(frames), dtype=bool) if blank is None else np.asarray(blank, dtype=bool)
    subjects = track(frames, blank)
    usable = np.flatnonzero(~blank)
    opening = usable[: max(3, len(usable) // 5)]
    areas = [s.area for i in opening if (s := subjects[i]) is not None]
    if len(opening) < 3 or len(areas) < 0.6 * len(opening):
        return {}, []
    reference = float(np.median(areas))
    if reference > _MAX_FRACTION:
        return {}, []
    present = np.array([s is not None and s.area >= _PRESENT * reference for s in subjects])
    scores, flags = _changes(subjects, present)
    flags += _losses(subjects, present, blank, reference)
    scores["subject_presence"] = round(float(present[usable].mean()), 3)
    return scores, flags
