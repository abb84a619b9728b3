"""The shipped shapes models follow their prompts, deterministically, in t2v and i2v."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from PIL import Image

from local_models.families.shapes import PACKAGED
from local_models.shapes.adherence import check_clip
from local_models.shapes.pipeline import ShapesPipeline
from local_models.shapes.presets import PRESETS
from local_models.shapes.vocab import Attributes, parse_prompt
from tools.shapes.data import render_clips, sample_specs, to_uint8
from tools.shapes.evaluate import evaluate

# Measured adherence of the shipped weights on this fixed test set, minus a margin for platform
# differences in floating point (the outputs are deterministic on one machine).
FLOOR = {"shapes-fast": 0.75, "shapes-hq": 0.85}


@pytest.fixture(scope="module", params=sorted(PRESETS))
def shipped(request: pytest.FixtureRequest) -> tuple[str, ShapesPipeline]:
    pipe = ShapesPipeline.from_pretrained(PACKAGED / request.param, dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    return request.param, pipe


def test_follows_prompts(shipped: tuple[str, ShapesPipeline]) -> None:
    name, pipe = shipped
    preset = PRESETS[name]
    report = evaluate(pipe, n=32, seed=2024, steps=preset.steps, guidance=preset.guidance)
    assert report["summary"]["pass"] >= FLOOR[name], report


def test_deterministic_for_a_seed(shipped: tuple[str, ShapesPipeline]) -> None:
    _, pipe = shipped
    run = lambda s: pipe("a green square moving left", generator=torch.Generator().manual_seed(s)).frames  # noqa: E731
    assert np.array_equal(run(3), run(3)) and not np.array_equal(run(3), run(4))


def test_image_to_video_moves_the_given_image(shipped: tuple[str, ShapesPipeline]) -> None:
    _, pipe = shipped
    attrs = Attributes("orange", "square", "right", "slowly", "gray", None)
    rng = random.Random(5)
    spec = sample_specs([attrs], rng, frames=8, size=32)[0]
    first = to_uint8(render_clips([spec], frames=8, size=32))[0, 0]
    out = pipe(
        "an orange square moving slowly to the right on a gray background",
        image=Image.fromarray(first).resize((96, 96), Image.Resampling.NEAREST),
        generator=torch.Generator().manual_seed(0),
    ).frames[0]
    clip = (out * 255).round().astype(np.uint8)
    assert np.abs(clip[0].astype(int) - first.astype(int)).mean() < 12, "the image is the first frame"
    assert check_clip(clip, attrs).passed
    assert parse_prompt("an orange square moving slowly to the right on a gray background") == attrs
