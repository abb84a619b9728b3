"""Prompts over the closed vocabulary: any word order, filler ignored, synonyms understood."""

from __future__ import annotations

import random

import pytest

from local_models.shapes.vocab import Attributes, parse_prompt, write_prompt
from tools.shapes.data import sample_attributes


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        (
            "a small yellow triangle drifting slowly upward on a gray background",
            Attributes("yellow", "triangle", "up", "slowly", "gray", "small"),
        ),
        (
            "On a grey backdrop, rising gently: one tiny yellow triangle",
            Attributes("yellow", "triangle", "up", "slowly", "gray", "small"),
        ),
        (
            "blue box heading to the left over a dark blue background",
            Attributes("blue", "square", "left", None, "dark blue", None),
        ),
        (
            "a white disc staying still on a black background",
            Attributes("white", "circle", "still", None, "black"),
        ),
        ("THE PURPLE BALL IS FALLING FAST", Attributes("purple", "circle", "down", "quickly", None, None)),
        (
            "an orange square not moving on a gray background",
            Attributes("orange", "square", "still", None, "gray", None),
        ),
        ("hello world", Attributes()),
    ],
)
def test_parse(prompt: str, expected: Attributes) -> None:
    assert parse_prompt(prompt) == expected


def test_written_prompts_parse_back() -> None:
    rng = random.Random(7)
    for _ in range(500):
        attrs = sample_attributes(rng)
        assert parse_prompt(write_prompt(attrs, rng)) == attrs
