"""Input rules: frame counts, sizes, and how loose request fields resolve to exact parameters."""

from __future__ import annotations

import pytest

from local_models import FrameRule, InvalidInput, ModelSpec, SizeRule, VideoRequest, parse_size, resolve

WAN_LIKE = ModelSpec(
    id="m",
    family="test",
    modes=frozenset({"t2v"}),
    frames=FrameRule(4, 1, 5, 81),
    sizes=SizeRule(default=(832, 480), multiple=16, min_side=256, max_side=1280),
    fps=16,
    default_seconds=5.0,
    default_steps=30,
    default_guidance=5.0,
    price_per_second=2.0,
)


@pytest.mark.parametrize(("wanted", "expected"), [(80, 81), (16, 17), (18, 17), (19, 21), (1, 5), (500, 81)])
def test_nearest_frames_follow_4k_plus_1(wanted: float, expected: int) -> None:
    assert FrameRule(4, 1, 5, 81).nearest(wanted) == expected


def test_frame_rule_describes_itself() -> None:
    assert FrameRule(8, 1, 9, 257).describe() == "8k+1 from 9 to 257"
    assert FrameRule(4, 1, 5, 81).allows(49) and not FrameRule(4, 1, 5, 81).allows(48)


def test_seconds_map_to_nearest_allowed_frames() -> None:
    params = resolve(WAN_LIKE, VideoRequest(mode="t2v", seconds=5, seed=1))
    assert (params.frames, params.fps, params.duration) == (81, 16, 81 / 16)
    assert resolve(WAN_LIKE, VideoRequest(mode="t2v", seconds=2, seed=1)).frames == 33


def test_defaults_fill_in() -> None:
    params = resolve(WAN_LIKE, VideoRequest(mode="t2v", seed=9))
    assert (params.width, params.height, params.steps, params.guidance, params.seed) == (832, 480, 30, 5.0, 9)


def test_random_seed_is_recorded() -> None:
    assert 0 <= resolve(WAN_LIKE, VideoRequest(mode="t2v")).seed < 2**31


@pytest.mark.parametrize(
    ("kwargs", "code", "needle"),
    [
        ({"size": (830, 480)}, "unsupported_size", "multiples of 16"),
        ({"frames": 80}, "unsupported_frames", "4k+1"),
        ({"seconds": 60}, "unsupported_seconds", "seconds"),
        ({"fps": 30}, "unsupported_fps", "16"),
        ({"mode": "i2v"}, "unsupported_mode", "t2v"),
        ({"steps": 0}, "invalid_steps", "steps"),
        ({"guidance": -1.0}, "invalid_guidance", "guidance"),
    ],
)
def test_broken_rules_name_the_rule(kwargs: dict, code: str, needle: str) -> None:
    kwargs = {"mode": "t2v", **kwargs}
    with pytest.raises(InvalidInput) as err:
        resolve(WAN_LIKE, VideoRequest(**kwargs))
    assert err.value.code == code and needle in err.value.message


def test_allow_list_sizes() -> None:
    rule = SizeRule(default=(64, 64), allowed=((64, 64), (128, 64)))
    assert rule.allows(128, 64) and not rule.allows(64, 128)
    assert "64x64, 128x64" in rule.describe()


@pytest.mark.parametrize("bad", ["64", "64x", "x64", "64x64x3", "-64x64", "0x64", "ax b", "999999x1"])
def test_parse_size_rejects(bad: str) -> None:
    with pytest.raises(InvalidInput):
        parse_size(bad)


def test_parse_size_accepts() -> None:
    assert parse_size("1280x720") == (1280, 720) and parse_size(" 64X48 ") == (64, 48)
