"""The quality report as creators and the API see it: its JSON, reference scores, short and large clips,
and prompt-adherence checks named by the model's spec."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from local_models import qc
from local_models.catalog import BUILTIN_ENTRIES
from local_models.qc import check_frames

from .qc_clips import codes, moving, noise


def test_the_report_as_json() -> None:
    report: dict[str, Any] = check_frames(noise()).as_dict()
    assert set(report) == {"scores", "flags", "adherence", "passed"}
    assert report["passed"] is False and report["adherence"] is None
    assert report["scores"]["frames"] == 9
    assert [f["code"] for f in report["flags"]] == ["inconsistent"]


def _noisy_moving() -> np.ndarray:
    clip = moving(9, 3).astype(int)
    clip += np.random.default_rng(7).integers(-12, 13, clip.shape)
    return np.clip(clip, 0, 255).astype(np.uint8)


def test_scores_of_a_reference_clip_are_stable() -> None:
    """The numbers a creator sees for a fixed clip (a noisy square sliding right): any change to how
    consistency (SSIM), flicker, motion (optical flow) or grayscale are computed moves them."""
    scores = check_frames(_noisy_moving()).scores
    scene = {
        "subject_area_jump",
        "subject_colour_jump",
        "subject_shape_jump",
        "subject_presence",
        "focal_points",
    }
    assert {k: v for k, v in scores.items() if k not in scene} == {
        "temporal_consistency": pytest.approx(0.6633, abs=2e-4),
        "flicker": pytest.approx(0.068, abs=2e-3),
        "motion": pytest.approx(0.00926, abs=3e-5),
        "frozen_fraction": 0.0,
        "blank_frames": 0,
        "frames": 9,
    }
    # The scene checks (tests/local_models/test_qc_seed_checks.py): one steady square; on this strong
    # texture no focal point stands out, so hierarchy is not judged.
    assert scores["subject_presence"] == scores["subject_area_jump"] == 1.0 and "focal_points" not in scores
    assert qc._ssim(qc._gray(_noisy_moving()[0]), qc._gray(_noisy_moving()[1])) == pytest.approx(
        0.66686, abs=1e-4
    )


def test_the_report_as_the_api_returns_it() -> None:
    report = check_frames(np.repeat(moving(2)[:1], 4, axis=0), wants_motion=True, prompt="a ball rolls")
    body = report.as_dict()
    assert set(body) == {"scores", "flags", "adherence", "passed"} and body["passed"] is False
    # "frames" only on flags about part of the clip (here "frozen": the frames that do not change)
    assert all(
        {"code", "message"} <= set(f) <= {"code", "message", "frames"} and f["message"] for f in body["flags"]
    )
    assert "although the prompt asks for it ('a ball rolls')" in next(
        f["message"] for f in body["flags"] if f["code"] == "low_motion"
    )
    unasked = check_frames(np.repeat(moving(2)[:1], 4, axis=0), wants_motion=True).as_dict()
    assert next(f["message"] for f in unasked["flags"] if f["code"] == "low_motion") == "little motion"


@pytest.mark.parametrize("frames", [1, 2, 3])
def test_very_short_clips(frames: int) -> None:
    """One frame has nothing to compare: fully consistent, no flicker or motion, and counted frozen;
    flicker needs at least three frames (two changes)."""
    clip = moving(frames, 3)
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
    clip = moving(9, 3)
    checked = check_frames(clip, prompt="a red square moving right", prompt_check="shapes")
    assert checked.adherence is not None and checked.adherence["colour"] == "red"
    assert checked.as_dict()["adherence"] == checked.adherence
    assert check_frames(clip, prompt="a red square moving right").adherence is None
    assert check_frames(clip, prompt_check="shapes").adherence is None
    wrong = check_frames(clip, prompt="a blue circle moving left", prompt_check="shapes")
    assert "off_prompt" in codes(wrong) and "colour is red (asked blue)" in next(
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
        check_frames(moving(), prompt="a red square", prompt_check="nope")
    entries = {e.family: e for e in BUILTIN_ENTRIES}
    assert get_family("shapes").spec(entries["shapes"]).prompt_check == "shapes"
    assert get_family("wan").spec(entries["wan"]).prompt_check is None
