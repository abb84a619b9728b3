"""Prompts over the closed vocabulary: any word order, filler ignored, synonyms understood."""

from __future__ import annotations

import random

import pytest

from local_models.shapes.vocab import Attributes, ignored_terms, parse_prompt, write_prompt
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


@pytest.mark.parametrize(
    ("prompt", "ignored"),
    [
        ("a cat on a sofa", ["cat", "sofa"]),
        ("a red circle on a red background", ["red background"]),
        ("a red circle and a blue square", ["blue", "square"]),
        ("a white ball sinking, camera pans left", ["camera", "pans", "left"]),
        ("the huge green ball is not moving on a dark blue background", []),
    ],
)
def test_ignored_terms_name_what_the_model_cannot_draw(prompt: str, ignored: list[str]) -> None:
    assert ignored_terms(prompt) == ignored


def test_prompts_in_the_vocabulary_raise_no_false_alarm() -> None:
    rng = random.Random(11)
    prompts = [write_prompt(sample_attributes(rng), rng) for _ in range(2000)]
    assert [p for p in prompts if ignored_terms(p)] == []
