"""The adherence checker: right on rendered ground truth, and it catches wrong colour, shape, direction."""

from __future__ import annotations

import dataclasses
import random

import numpy as np
from PIL import Image

from local_models.shapes.adherence import check_clip
from tools.shapes.data import render_clips, sample_attributes, sample_specs, to_uint8

OTHER = {"left": "right", "right": "left", "up": "down", "down": "up", "still": "right"}


def _clips(n: int, seed: int):  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    attrs = [sample_attributes(rng) for _ in range(n)]
    return attrs, to_uint8(render_clips(sample_specs(attrs, rng, frames=8, size=32), frames=8, size=32))


def test_ground_truth_passes() -> None:
    attrs, clips = _clips(300, seed=11)
    results = [check_clip(c, a) for c, a in zip(clips, attrs, strict=True)]
    assert all(r.passed for r in results)


def test_wrong_attributes_fail() -> None:
    attrs, clips = _clips(60, seed=12)
    colours = ["red", "green", "blue", "yellow", "white", "orange", "purple"]
    for clip, a in zip(clips, attrs, strict=True):
        assert not check_clip(clip, dataclasses.replace(a, motion=OTHER[a.motion])).passed
        wrong_colour = colours[(colours.index(a.colour) + 1) % len(colours)]
        assert not check_clip(clip, dataclasses.replace(a, colour=wrong_colour)).passed
        wrong_shape = {"circle": "square", "square": "triangle", "triangle": "circle"}[a.shape]
        assert not check_clip(clip, dataclasses.replace(a, shape=wrong_shape)).passed


def test_upsampled_clips_measure_the_same() -> None:
    attrs, clips = _clips(20, seed=13)
    for clip, a in zip(clips, attrs, strict=True):
        big = np.stack([np.asarray(Image.fromarray(f).resize((128, 128), Image.BICUBIC)) for f in clip])
        assert check_clip(big, a).passed


def test_blank_clip_fails() -> None:
    attrs, _ = _clips(1, seed=14)
    blank = np.zeros((8, 32, 32, 3), dtype=np.uint8)
    assert not check_clip(blank, attrs[0]).passed
