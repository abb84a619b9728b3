"""Continuity across the cut (``gateway.creative.studio.cut_continuity``): the winners' boundary frames,
decoded from their MP4s, are compared; a jump names both shots; an unreadable clip costs no cut."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from gateway.creative.studio import cut_continuity
from local_models.video import encode_mp4


def _clip(path: Path, brightness: int) -> Path:
    frames = np.full((9, 48, 64, 3), brightness, np.uint8)
    frames[:, 16:32, 20:36] = (220, 40, 40)  # the same red square in every shot
    encode_mp4(frames, 8, path)
    return path


def _winner(n: int, path: Path, prompt: str) -> tuple[Any, Any, Path]:
    shot = SimpleNamespace(id=f"shot_{n}", position=n, prompt="the shot's own prompt")
    return shot, SimpleNamespace(prompt=prompt), path


def test_a_lighting_jump_between_shots_is_flagged_naming_both(tmp_path: Path) -> None:
    dark = _clip(tmp_path / "a.mp4", 40)
    same = _clip(tmp_path / "b.mp4", 40)
    bright = _clip(tmp_path / "c.mp4", 160)
    qc = cut_continuity(
        [_winner(1, dark, "a red box at night"), _winner(2, same, "it waits"), _winner(3, bright, "noon")]
    )
    assert qc is not None
    assert [s["shots"] for s in qc["scores"]] == [["shot_1", "shot_2"], ["shot_2", "shot_3"]]
    (flag,) = qc["flags"]
    assert flag["code"] == "continuity_jump" and flag["shots"] == ["shot_2", "shot_3"]
    assert flag["message"].startswith("shot 2 ('it waits') -> shot 3 ('noon'): the lighting brightens")


def test_an_unreadable_clip_is_left_out(tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    good = _clip(tmp_path / "a.mp4", 40)
    qc = cut_continuity([_winner(1, good, "a"), _winner(2, broken, "b"), _winner(3, good, "c")])
    assert qc == {"flags": [], "scores": []}
    assert cut_continuity([_winner(1, broken, "a"), _winner(2, broken, "b")]) is None
