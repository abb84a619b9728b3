"""Quality checks on synthetic clips: each flag fires past its documented threshold, and not at it.

Clips are uint8 (T, H, W, 3) arrays fed straight to ``check_frames`` (no model, no video file).
Boundaries are checked exactly: a threshold set to the clip's own score does not raise the flag (the
comparisons are strict), a hair past it does.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from local_models import qc
from local_models.qc import THRESHOLDS, check_frames

from .qc_clips import EPS, background, codes, moving, noise, uniform, with_duplicates


@pytest.fixture
def raw_scores(monkeypatch: pytest.MonkeyPatch) -> None:
    """Report scores unrounded, so a threshold can be set exactly at the value the check compares."""
    monkeypatch.setattr(qc, "round", lambda value, _digits=0: value, raising=False)


# --- the documented thresholds ---------------------------------------------------------------


def test_thresholds_are_the_documented_ones() -> None:
    assert THRESHOLDS == {
        "consistency_min": 0.35,
        "flicker_max": 4.0,
        "motion_min": 0.002,
        "frozen_fraction": 0.5,
        "duplicate_changed": 0.002,
        "blank_luma": 10.0,
        "blank_std": 3.0,
    }
    readme = " ".join((Path(__file__).parents[2] / "README.md").read_text().split())
    for documented in (
        "more than half the frame changes are no change",
        "jitter > 4 on 0-255",
        "mean luma < 10",
        "SSIM < 0.35",
        "< 0.002 of the diagonal per frame",
    ):
        assert documented in readme


# --- frozen ------------------------------------------------------------------------------------


@pytest.mark.parametrize("duplicated", range(9))
def test_a_clip_is_frozen_when_more_than_half_its_changes_are_duplicates(duplicated: int) -> None:
    clip = with_duplicates(moving(), duplicated)
    report = check_frames(clip)
    assert report.scores["frozen_fraction"] == round(duplicated / 8, 3)
    # 4 of 8 is exactly half: not frozen; 5 of 8 is.
    assert ("frozen" in codes(report)) is (duplicated >= 5)
    if duplicated >= 5:
        assert f"{duplicated} of 8 frame changes show no change" in report.flags[0].message


def test_frozen_threshold_is_strict() -> None:
    clip = with_duplicates(moving(), 3)
    assert check_frames(clip).scores["frozen_fraction"] == 0.375
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(THRESHOLDS, "frozen_fraction", 0.375)
        assert "frozen" not in codes(check_frames(clip))
        mp.setitem(THRESHOLDS, "frozen_fraction", 0.375 - EPS)
        assert "frozen" in codes(check_frames(clip))


def test_a_still_clip_is_not_frozen_when_the_prompt_asks_for_stillness() -> None:
    still = np.repeat(moving()[:1], 9, axis=0)
    assert check_frames(still).scores["frozen_fraction"] == 1.0
    assert "frozen" not in codes(check_frames(still, wants_motion=False))
    assert "frozen" in codes(check_frames(still, wants_motion=None))
    assert "frozen" in codes(check_frames(still, wants_motion=True))
    # Stillness asked for excuses only a clip that does not move, not one that stutters.
    assert codes(check_frames(moving(), wants_motion=False)) == set()


# --- what counts as a duplicate frame -----------------------------------------------------------


def _changing(pixels_per_change: int, delta: int = 20, frames: int = 9, size: int = 100) -> np.ndarray:
    """Frames that each change exactly ``pixels_per_change`` new pixels (by ``delta`` in red)."""
    ground = np.repeat(background(size)[..., None], 3, axis=-1)
    clip = np.repeat(ground[None], frames, axis=0)
    order = np.random.default_rng(1).permutation(size * size)
    for t in range(1, frames):
        clip[t] = clip[t - 1]
        chosen = order[(t - 1) * pixels_per_change : t * pixels_per_change]
        ys, xs = np.unravel_index(chosen, (size, size))
        clip[t, ys, xs, 0] += delta
    return clip


def test_a_frame_with_two_per_mille_of_pixels_changed_is_not_a_duplicate() -> None:
    # 100 x 100 frames: 20 changed pixels is exactly 0.2%, the threshold: a real (tiny) change.
    assert check_frames(_changing(20)).scores["frozen_fraction"] == 0.0
    assert "frozen" not in codes(check_frames(_changing(20)))
    # 19 pixels is under it: every change counts as none, and the clip is frozen.
    assert check_frames(_changing(19)).scores["frozen_fraction"] == 1.0
    assert "frozen" in codes(check_frames(_changing(19)))


def test_duplicate_threshold_is_strict() -> None:
    clip = _changing(50)  # 0.5% of the pixels change each frame
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(THRESHOLDS, "duplicate_changed", 0.005)
        assert check_frames(clip).scores["frozen_fraction"] == 0.0
        mp.setitem(THRESHOLDS, "duplicate_changed", 0.005 + EPS)
        assert check_frames(clip).scores["frozen_fraction"] == 1.0


def test_a_pixel_changes_when_a_channel_moves_by_more_than_8() -> None:
    assert check_frames(_changing(1000, delta=9)).scores["frozen_fraction"] == 0.0
    assert check_frames(_changing(1000, delta=8)).scores["frozen_fraction"] == 1.0


# --- flicker -----------------------------------------------------------------------------------


def test_brightness_jitter_of_exactly_4_is_not_flicker() -> None:
    steady = check_frames(uniform([100, 104] * 4 + [100]))
    assert steady.scores["flicker"] == 4.0
    assert "flicker" not in codes(steady)
    flickering = check_frames(uniform([100, 105] * 4 + [100]))
    assert flickering.scores["flicker"] == 5.0
    assert "flicker" in codes(flickering)
    assert "jitter 5.0" in next(f.message for f in flickering.flags if f.code == "flicker")


def test_a_smooth_clip_does_not_flicker_and_a_strobing_one_does() -> None:
    assert "flicker" not in codes(check_frames(moving()))
    strobe = moving().astype(np.int16)
    strobe[1::2] += 40
    assert "flicker" in codes(check_frames(np.clip(strobe, 0, 255).astype(np.uint8)))


def test_flicker_threshold_is_strict(raw_scores: None) -> None:
    clip = moving().astype(np.int16)
    clip += np.array([0, 3, -2, 5, 1, -4, 2, 0, 3], dtype=np.int16)[:, None, None, None]
    clip8 = clip.clip(0, 255).astype(np.uint8)
    score = check_frames(clip8).scores["flicker"]
    assert 1.0 < score < 10.0
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(THRESHOLDS, "flicker_max", score)
        assert "flicker" not in codes(check_frames(clip8))
        mp.setitem(THRESHOLDS, "flicker_max", score - EPS)
        assert "flicker" in codes(check_frames(clip8))


# --- blank frames ------------------------------------------------------------------------------


def test_black_frames_are_blank() -> None:
    clip = moving()
    clip[3] = 0
    clip[6] = 0
    report = check_frames(clip)
    assert report.scores["blank_frames"] == 2
    assert "blank_frames" in codes(report)
    assert "2 of 9 frames are blank" in next(f.message for f in report.flags if f.code == "blank_frames")
    assert "blank_frames" not in codes(check_frames(moving()))


def test_blank_means_darker_than_luma_10() -> None:
    assert check_frames(uniform([10] * 3)).scores["blank_frames"] == 0  # exactly 10: not blank
    assert check_frames(uniform([9] * 3)).scores["blank_frames"] == 3


def _two_tone(low: int, high: int, frames: int = 3, size: int = 32) -> np.ndarray:
    """Frames half ``low``, half ``high`` (a checkerboard): luma mean (low+high)/2, std (high-low)/2."""
    board = (np.indices((size, size)).sum(axis=0) % 2).astype(bool)
    frame = np.where(board, high, low).astype(np.uint8)
    return np.repeat(np.repeat(frame[None, ..., None], 3, axis=-1), frames, axis=0)


def test_blank_means_almost_no_detail() -> None:
    # Mean 5 either way; detail (std) of exactly 3 is not blank, 2 is.
    assert check_frames(_two_tone(2, 8)).scores["blank_frames"] == 0
    assert check_frames(_two_tone(3, 7)).scores["blank_frames"] == 3
    # A dark scene full of detail is not blank.
    dark = np.random.default_rng(2).integers(0, 19, (3, 32, 32, 3), dtype=np.uint8)
    assert check_frames(dark).scores["blank_frames"] == 0


@pytest.mark.parametrize("name", ["blank_luma", "blank_std"])
def test_blank_thresholds_are_strict(name: str) -> None:
    black = uniform([0] * 3)  # luma 0, std 0
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(THRESHOLDS, name, 0.0)
        assert check_frames(black).scores["blank_frames"] == 0
        mp.setitem(THRESHOLDS, name, EPS)
        assert check_frames(black).scores["blank_frames"] == 3


# --- temporal consistency ----------------------------------------------------------------------


def test_random_noise_is_inconsistent() -> None:
    report = check_frames(noise())
    assert report.scores["temporal_consistency"] < 0.1
    assert "inconsistent" in codes(report)
    assert "SSIM 0.0" in next(f.message for f in report.flags if f.code == "inconsistent")


def test_a_smoothly_moving_shape_is_consistent() -> None:
    report = check_frames(moving())
    assert report.scores["temporal_consistency"] > 0.9
    assert codes(report) == set()
    assert report.as_dict()["passed"] is True


def test_consistency_threshold_is_strict(raw_scores: None) -> None:
    clip = moving(step=4)
    score = check_frames(clip).scores["temporal_consistency"]
    assert 0.5 < score < 1.0
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(THRESHOLDS, "consistency_min", score)
        assert "inconsistent" not in codes(check_frames(clip))
        mp.setitem(THRESHOLDS, "consistency_min", score + EPS)
        assert "inconsistent" in codes(check_frames(clip))


def test_a_frozen_clip_is_reported_frozen_not_inconsistent() -> None:
    # Noise whose changes are half duplicates: mean SSIM about 0.5, under a raised bar of 0.9.
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(THRESHOLDS, "consistency_min", 0.9)
        half = check_frames(with_duplicates(noise(), 4))
        assert half.scores["frozen_fraction"] == 0.5
        assert codes(half) == {"inconsistent"}
        mostly = check_frames(with_duplicates(noise(), 5))
        assert codes(mostly) == {"frozen"}


# --- motion ------------------------------------------------------------------------------------


def test_low_motion_is_flagged_only_when_the_prompt_asks_for_motion() -> None:
    still = np.repeat(moving()[:1], 9, axis=0)
    report = check_frames(still, wants_motion=True, prompt="a red square slides right")
    assert report.scores["motion"] == 0.0
    assert "low_motion" in codes(report)
    message = next(f.message for f in report.flags if f.code == "low_motion")
    assert "'a red square slides right'" in message
    assert "low_motion" not in codes(check_frames(still, wants_motion=None))
    assert "low_motion" not in codes(check_frames(still, wants_motion=False))
    sliding = check_frames(moving(), wants_motion=True)
    assert sliding.scores["motion"] > THRESHOLDS["motion_min"]
    assert "low_motion" not in codes(sliding)


def test_motion_threshold_is_strict(raw_scores: None) -> None:
    clip = moving()
    score = check_frames(clip).scores["motion"]
    assert score > 0.005
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(THRESHOLDS, "motion_min", score)
        assert "low_motion" not in codes(check_frames(clip, wants_motion=True))
        mp.setitem(THRESHOLDS, "motion_min", score + EPS)
        assert "low_motion" in codes(check_frames(clip, wants_motion=True))
