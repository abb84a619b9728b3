"""Recall and false alarms of the scene quality checks on planted defects, and what they cost.

    python bench/qc_planted.py [--n 50] [--timing]

For each check, ``n`` clips with the defect planted and ``n`` clean clips of the same kind
(``tests/local_models/planted.py``, fixed seeds, disjoint from the tests' seeds) go through the check;
the table gives how many planted defects it found (recall) and how many clean clips it flagged.
``--timing``: seconds the scene checks add to ``check_frames`` on a 49-frame 256x256 clip and a
121-frame 512x512 clip (median of 3 runs, 2 threads).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/ is not installed

from local_models import qc
from local_models.qc_continuity import continuity
from local_models.qc_hierarchy import check_hierarchy
from local_models.qc_subject import check_subject
from local_models.qc_sync import check_sync
from tests.local_models.planted import Clip, continuity_pair, hierarchy_clip, subject_clip, sync_clip

SEED0 = 1000  # the tests use seeds below this


def _codes(found: tuple[dict[str, float], list[qc.QcFlag]]) -> set[str]:
    return {f.code for f in found[1]}


def _subject(clip: Clip) -> set[str]:
    return _codes(check_subject(clip.frames))


def _sync(clip: Clip) -> set[str]:
    return _codes(check_sync(clip.frames, clip.audio, clip.sample_rate, clip.fps))


def _hierarchy(clip: Clip) -> set[str]:
    return _codes(check_hierarchy(clip.frames))


def rows(n: int) -> list[tuple[str, int, int, int, int]]:
    """(check, planted n, detected, clean n, false alarms) per check."""
    seeds = range(SEED0, SEED0 + n)
    cases: list[tuple[str, Callable[[int], set[str]], Callable[[int], set[str]]]] = [
        (
            "subject_changed",
            lambda s: _subject(subject_clip(s, "changed")),
            lambda s: _subject(subject_clip(s)),
        ),
        ("subject_lost", lambda s: _subject(subject_clip(s, "lost")), lambda s: _subject(subject_clip(s))),
        ("av_drift", lambda s: _sync(sync_clip(s, True)), lambda s: _sync(sync_clip(s, False))),
        (
            "cluttered",
            lambda s: _hierarchy(hierarchy_clip(s, True)),
            lambda s: _hierarchy(hierarchy_clip(s, False)),
        ),
    ]
    for defect in ("lighting", "colour", "subject"):
        cases.append(
            (
                f"continuity_jump ({defect})",
                lambda s, d=defect: _codes(continuity(*continuity_pair(s, d))),  # type: ignore[misc]
                lambda s: _codes(continuity(*continuity_pair(s))),
            )
        )
    out = []
    for name, planted, clean in cases:
        code = name.split()[0]
        detected = sum(code in planted(s) for s in seeds)
        alarms = sum(code in clean(s) for s in seeds)
        out.append((name, n, detected, n, alarms))
    return out


def _clip(frames: int, side: int) -> np.ndarray:
    return subject_clip(7, size=side, frames=frames).frames


def timing() -> list[tuple[str, float, float]]:
    """(clip, seconds of check_frames without the scene checks, seconds they add), at 2 threads."""
    import cv2

    cv2.setNumThreads(2)
    out = []
    for frames, side in ((49, 256), (121, 512)):
        clip = _clip(frames, side)
        sync = sync_clip(7, False, frames=frames)
        sound, rate, fps = sync.audio, sync.sample_rate, sync.fps
        small = qc._small(clip)
        base, added = [], []
        for _ in range(3):
            started = time.perf_counter()
            qc._small(clip)
            qc._basic(small, prompt=None, wants_motion=None)
            base.append(time.perf_counter() - started)
            started = time.perf_counter()
            check_subject(small)
            check_hierarchy(small)
            check_sync(small, sound, rate, fps)
            added.append(time.perf_counter() - started)
        out.append((f"{frames} frames {side}x{side}", statistics.median(base), statistics.median(added)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--timing", action="store_true")
    args = parser.parse_args()
    print("| check | planted | detected | recall | clean | false alarms |\n|---|---|---|---|---|---|")
    for name, planted, detected, clean, alarms in rows(args.n):
        print(f"| {name} | {planted} | {detected} | {detected / planted:.0%} | {clean} | {alarms} |")
    if args.timing:
        print("\n| clip | existing checks (s) | scene checks add (s) |\n|---|---|---|")
        for name, base, added in timing():
            print(f"| {name} | {base:.2f} | {added:.3f} |")


if __name__ == "__main__":
    main()
