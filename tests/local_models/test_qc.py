"""Quality checks on synthetic clips: each flag fires past its documented threshold, and not at it.

Clips are uint8 (T, H, W, 3) arrays fed straight to ``check_frames`` (no model, no video file).
Boundaries are checked exactly: a threshold set to the clip's own score does not raise the flag (the
comparisons are strict), a hair past it does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from local_models import qc
from local_models.catalog import BUILTIN_ENTRIES
from local_models.qc import THRESHOLDS, QcReport, check_frames

SIZE = 96
EPS = 1e-9


def _background(size: int = SIZE) -> np.ndarray:
    """A smooth texture (uint8 gray, H x W), so that motion and structure are measurable."""
    yy, xx = np.mgrid[:size, :size]
    return (120 + 40 * np.sin(xx / 7.0) * np.cos(yy / 9.0)).astype(np.uint8)


def _moving(frames: int = 9, step: int = 3) -> np.ndarray:
    """A red square sliding right over the texture, ``step`` pixels a frame."""
    ground = np.repeat(_background()[..., None], 3, axis=-1)
    clip = np.repeat(ground[None], frames, axis=0)
    for t in range(frames):
        x = 8 + step * t
        clip[t, 20:60, x : x + 40] = (220, 40, 40)
    return clip


def _noise(frames: int = 9, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (frames, SIZE, SIZE, 3), dtype=np.uint8)


def _with_duplicates(source: np.ndarray, duplicated: int) -> np.ndarray:
    """A clip as long as ``source`` whose first ``duplicated`` frame changes repeat the previous frame;
    the other changes step on through ``source``."""
    out = [source[0]]
    position = 0
    for i in range(len(source) - 1):
        if i >= duplicated:
            position += 1
        out.append(source[position])
    return np.stack(out)


def _uniform(lumas: list[int], size: int = 32) -> np.ndarray:
    """Flat gray frames (R = G = B), one per value: their luma is exactly that value."""
    return np.stack([np.full((size, size, 3), v, dtype=np.uint8) for v in lumas])


def _codes(report: QcReport) -> set[str]:
    return {f.code for f in report.flags}


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
    clip = _with_duplicates(_moving(), duplicated)
    report = check_frames(clip)
    assert report.scores["frozen_fraction"] == round(duplicated / 8, 3)
    # 4 of 8 is exactly half: not frozen; 5 of 8 is.
    assert ("frozen" in _codes(report)) is (duplicated >= 5)
    if duplicated >= 5:
        assert f"{duplicated} of 8 frame changes show no change" in report.flags[0].message


def test_frozen_threshold_is_strict() -> None:
    clip = _with_duplicates(_moving(), 3)
    assert check_frames(clip).scores["frozen_fraction"] == 0.375
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(THRESHOLDS, "frozen_fraction", 0.375)
        assert "frozen" not in _codes(check_frames(clip))
        mp.setitem(THRESHOLDS, "frozen_fraction", 0.375 - EPS)
        assert "frozen" in _codes(check_frames(clip))


def test_a_still_clip_is_not_frozen_when_the_prompt_asks_for_stillness() -> None:
    still = np.repeat(_moving()[:1], 9, axis=0)
    assert check_frames(still).scores["frozen_fraction"] == 1.0
    assert "frozen" not in _codes(check_frames(still, wants_motion=False))
    assert "frozen" in _codes(check_frames(still, wants_motion=None))
    assert "frozen" in _codes(check_frames(still, wants_motion=True))
    # Stillness asked for excuses only a clip that does not move, not one that stutters.
    assert _codes(check_frames(_moving(), wants_motion=False)) == set()


# --- what counts as a duplicate frame -----------------------------------------------------------


def _changing(pixels_per_change: int, delta: int = 20, frames: int = 9, size: int = 100) -> np.ndarray:
    """Frames that each change exactly ``pixels_per_change`` new pixels (by ``delta`` in red)."""
    ground = np.repeat(_background(size)[..., None], 3, axis=-1)
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
    assert "frozen" not in _codes(check_frames(_changing(20)))
    # 19 pixels is under it: every change counts as none, and the clip is frozen.
    assert check_frames(_changing(19)).scores["frozen_fraction"] == 1.0
    assert "frozen" in _codes(check_frames(_changing(19)))


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
    steady = check_frames(_uniform([100, 104] * 4 + [100]))
    assert steady.scores["flicker"] == 4.0
    assert "flicker" not in _codes(steady)
    flickering = check_frames(_uniform([100, 105] * 4 + [100]))
    assert flickering.scores["flicker"] == 5.0
    assert "flicker" in _codes(flickering)
    assert "jitter 5.0" in next(f.message for f in flickering.flags if f.code == "flicker")


def test_a_smooth_clip_does_not_flicker_and_a_strobing_one_does() -> None:
    assert "flicker" not in _codes(check_frames(_moving()))
    strobe = _moving().astype(np.int16)
    strobe[1::2] += 40
    assert "flicker" in _codes(check_frames(np.clip(strobe, 0, 255).astype(np.uint8)))


def test_flicker_threshold_is_strict(raw_scores: None) -> None:
    clip = _moving().astype(np.int16)
    clip += np.array([0, 3, -2, 5, 1, -4, 2, 0, 3], dtype=np.int16)[:, None, None, None]
    clip8 = clip.clip(0, 255).astype(np.uint8)
    score = check_frames(clip8).scores["flicker"]
    assert 1.0 < score < 10.0
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(THRESHOLDS, "flicker_max", score)
        assert "flicker" not in _codes(check_frames(clip8))
        mp.setitem(THRESHOLDS, "flicker_max", score - EPS)
        assert "flicker" in _codes(check_frames(clip8))


# --- blank frames ------------------------------------------------------------------------------


def test_black_frames_are_blank() -> None:
    clip = _moving()
    clip[3] = 0
    clip[6] = 0
    report = check_frames(clip)
    assert report.scores["blank_frames"] == 2
    assert "blank_frames" in _codes(report)
    assert "2 of 9 frames are blank" in next(f.message for f in report.flags if f.code == "blank_frames")
    assert "blank_frames" not in _codes(check_frames(_moving()))


def test_blank_means_darker_than_luma_10() -> None:
    assert check_frames(_uniform([10] * 3)).scores["blank_frames"] == 0  # exactly 10: not blank
    assert check_frames(_uniform([9] * 3)).scores["blank_frames"] == 3


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
    black = _uniform([0] * 3)  # luma 0, std 0
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(THRESHOLDS, name, 0.0)
        assert check_frames(black).scores["blank_frames"] == 0
        mp.setitem(THRESHOLDS, name, EPS)
        assert check_frames(black).scores["blank_frames"] == 3


# --- temporal consistency ----------------------------------------------------------------------


def test_random_noise_is_inconsistent() -> None:
    report = check_frames(_noise())
    assert report.scores["temporal_consistency"] < 0.1
    assert "inconsistent" in _codes(report)
    assert "SSIM 0.0" in next(f.message for f in report.flags if f.code == "inconsistent")


def test_a_smoothly_moving_shape_is_consistent() -> None:
    report = check_frames(_moving())
    assert report.scores["temporal_consistency"] > 0.9
    assert _codes(report) == set()
    assert report.as_dict()["passed"] is True


def test_consistency_threshold_is_strict(raw_scores: None) -> None:
    clip = _moving(step=4)
    score = check_frames(clip).scores["temporal_consistency"]
    assert 0.5 < score < 1.0
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(THRESHOLDS, "consistency_min", score)
        assert "inconsistent" not in _codes(check_frames(clip))
        mp.setitem(THRESHOLDS, "consistency_min", score + EPS)
        assert "inconsistent" in _codes(check_frames(clip))


def test_a_frozen_clip_is_reported_frozen_not_inconsistent() -> None:
    # Noise whose changes are half duplicates: mean SSIM about 0.5, under a raised bar of 0.9.
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(THRESHOLDS, "consistency_min", 0.9)
        half = check_frames(_with_duplicates(_noise(), 4))
        assert half.scores["frozen_fraction"] == 0.5
        assert _codes(half) == {"inconsistent"}
        mostly = check_frames(_with_duplicates(_noise(), 5))
        assert _codes(mostly) == {"frozen"}


# --- motion ------------------------------------------------------------------------------------


def test_low_motion_is_flagged_only_when_the_prompt_asks_for_motion() -> None:
    still = np.repeat(_moving()[:1], 9, axis=0)
    report = check_frames(still, wants_motion=True, prompt="a red square slides right")
    assert report.scores["motion"] == 0.0
    assert "low_motion" in _codes(report)
    message = next(f.message for f in report.flags if f.code == "low_motion")
    assert "'a red square slides right'" in message
    assert "low_motion" not in _codes(check_frames(still, wants_motion=None))
    assert "low_motion" not in _codes(check_frames(still, wants_motion=False))
    moving = check_frames(_moving(), wants_motion=True)
    assert moving.scores["motion"] > THRESHOLDS["motion_min"]
    assert "low_motion" not in _codes(moving)


def test_motion_threshold_is_strict(raw_scores: None) -> None:
    clip = _moving()
    score = check_frames(clip).scores["motion"]
    assert score > 0.005
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(THRESHOLDS, "motion_min", score)
        assert "low_motion" not in _codes(check_frames(clip, wants_motion=True))
        mp.setitem(THRESHOLDS, "motion_min", score + EPS)
        assert "low_motion" in _codes(check_frames(clip, wants_motion=True))


def test_the_report_as_json() -> None:
    report: dict[str, Any] = check_frames(_noise()).as_dict()
    assert set(report) == {"scores", "flags", "adherence", "passed"}
    assert report["passed"] is False and report["adherence"] is None
    assert report["scores"]["frames"] == 9
    assert [f["code"] for f in report["flags"]] == ["inconsistent"]


def _noisy_moving() -> np.ndarray:
    clip = _moving(9, 3).astype(int)
    clip += np.random.default_rng(7).integers(-12, 13, clip.shape)
    return np.clip(clip, 0, 255).astype(np.uint8)


def test_scores_of_a_reference_clip_are_stable() -> None:
    """The numbers a creator sees for a fixed clip (a noisy square sliding right): any change to how
    consistency (SSIM), flicker, motion (optical flow) or grayscale are computed moves them."""
    scores = check_frames(_noisy_moving()).scores
    assert scores == {
        "temporal_consistency": pytest.approx(0.6633, abs=2e-4),
        "flicker": pytest.approx(0.068, abs=2e-3),
        "motion": pytest.approx(0.00926, abs=3e-5),
        "frozen_fraction": 0.0,
        "blank_frames": 0,
        "frames": 9,
    }
    assert qc._ssim(qc._gray(_noisy_moving()[0]), qc._gray(_noisy_moving()[1])) == pytest.approx(
        0.66686, abs=1e-4
    )


def test_the_report_as_the_api_returns_it() -> None:
    report = check_frames(np.repeat(_moving(2)[:1], 4, axis=0), wants_motion=True, prompt="a ball rolls")
    body = report.as_dict()
    assert set(body) == {"scores", "flags", "adherence", "passed"} and body["passed"] is False
    assert all(set(f) == {"code", "message"} and f["message"] for f in body["flags"])
    assert "although the prompt asks for it ('a ball rolls')" in next(
        f["message"] for f in body["flags"] if f["code"] == "low_motion"
    )
    unasked = check_frames(np.repeat(_moving(2)[:1], 4, axis=0), wants_motion=True).as_dict()
    assert next(f["message"] for f in unasked["flags"] if f["code"] == "low_motion") == "little motion"


@pytest.mark.parametrize("frames", [1, 2, 3])
def test_very_short_clips(frames: int) -> None:
    """One frame has nothing to compare: fully consistent, no flicker or motion, and counted frozen;
    flicker needs at least three frames (two changes)."""
    clip = _moving(frames, 3)
    if frames == 3:  # brightness steps up then down: a flicker measurable only from three frames on
        clip = clip.copy()
        clip[1] = np.clip(clip[1].astype(int) + 60, 0, 255).astype(np.uint8)
    scores = check_frames(clip).scores
    assert scores["frames"] == frames
    if frames == 1:
        assert (scores["temporal_consistency"], scores["flicker"], scores["motion"]) == (1.0, 0.0, 0.0)
        assert scores["frozen_fraction"] == 1.0
    elif frames == 2:
        assert scores["flicker"] == 0.0 and scores["motion"] > 0 and scores["frozen_fraction"] == 0.0
    else:
        assert scores["flicker"] > 10


def test_large_frames_are_checked_at_256_pixels_a_side() -> None:
    big = np.zeros((2, 512, 300, 3), dtype=np.uint8)
    assert qc._small(big).shape == (2, 256, 150, 3)
    exact = np.zeros((2, 256, 100, 3), dtype=np.uint8)
    assert qc._small(exact) is exact  # already small enough: not even copied
    assert qc._small(np.zeros((1, 300, 257, 3), dtype=np.uint8)).shape == (1, 256, 219, 3)


def test_shapes_adherence_only_for_shapes_models_with_a_prompt() -> None:
    clip = _moving(9, 3)
    checked = check_frames(clip, prompt="a red square moving right", prompt_check="shapes")
    assert checked.adherence is not None and checked.adherence["colour"] == "red"
    assert checked.as_dict()["adherence"] == checked.adherence
    assert check_frames(clip, prompt="a red square moving right").adherence is None
    assert check_frames(clip, prompt_check="shapes").adherence is None
    wrong = check_frames(clip, prompt="a blue circle moving left", prompt_check="shapes")
    assert "off_prompt" in _codes(wrong) and "colour is red (asked blue)" in next(
        f.message for f in wrong.flags if f.code == "off_prompt"
    )


def test_prompt_checks_are_named_by_the_model_spec_and_loaded_on_first_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import ast
    import inspect

    from local_models.families import get_family
    from local_models.shapes.adherence import prompt_check

    # QC imports no model family when it is imported: a checker named as "module:function" is
    # imported when first asked for, then kept.
    top = [n for n in ast.parse(inspect.getsource(qc)).body if isinstance(n, ast.Import | ast.ImportFrom)]
    assert not [n for n in top if "shapes" in ast.unparse(n)]
    monkeypatch.setitem(qc.PROMPT_CHECKS, "lazy", "local_models.shapes.adherence:prompt_check")
    assert qc.prompt_checker("lazy") is prompt_check and qc.PROMPT_CHECKS["lazy"] is prompt_check
    assert qc.prompt_checker("shapes") is prompt_check
    with pytest.raises(ValueError, match=r"unknown prompt check 'nope' \(known: lazy, shapes\)"):
        check_frames(_moving(), prompt="a red square", prompt_check="nope")
    entries = {e.family: e for e in BUILTIN_ENTRIES}
    assert get_family("shapes").spec(entries["shapes"]).prompt_check == "shapes"
    assert get_family("wan").spec(entries["wan"]).prompt_check is None
