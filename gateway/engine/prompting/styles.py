"""Writing the layers in a model's style: cinematic prose, comma-separated tags, or (for a model with a
closed vocabulary, the shapes models) only the words it understands, in the user's own wording."""

from __future__ import annotations

from typing import Any

from local_models.shapes.vocab import concept_words, ignored_terms, parse_prompt

from .focus import content_words, words, wordset
from .types import LAYERS, Layer, ModelTarget, Optimization, Style

__all__ = ["compose", "split_kept", "vocabulary_rewrite"]


def compose(parts: dict[str, list[str]], style: Style) -> str:
    """The layers' phrases as one prompt: a sentence per layer (prose), or one comma-separated list (tags)."""
    if style == "tags":
        return ", ".join(p for layer in LAYERS for p in parts.get(layer, ()))
    sentences = []
    for layer in LAYERS:
        if parts.get(layer):
            text = ", ".join(parts[layer])
            end = "" if text.endswith((".", "!", "?")) else "."
            sentences.append(text[0].upper() + text[1:] + end)
    return " ".join(sentences)


def split_kept(prompt: str, rewrite: str) -> tuple[list[str], list[str]]:
    """The prompt's content words that are in the rewrite, and those that are not."""
    present = set(words(rewrite))
    own = content_words(prompt)
    return [w for w in own if w in present], [w for w in own if w not in present]


_DIRECTIONS = wordset(
    "left right up down leftward leftwards rightward rightwards upward upwards downward downwards"
)


def _surface(prompt: str) -> dict[str, str]:
    """For each slot the prompt fills, the word the user used for it ("ball", "grey", "gently")."""
    lookup = concept_words()
    attrs = parse_prompt(prompt)
    out: dict[str, str] = {}
    for word in words(prompt.lower().replace("grey", "gray")):
        concept = lookup.get(word)
        if concept is None:
            continue
        slot, value = concept.split(":", 1)
        if getattr(attrs, slot, None) == value:
            out.setdefault(slot, word)
    if attrs.background == "dark blue":
        out["background"] = "dark blue"
    elif attrs.background and "grey" in prompt.lower() and attrs.background == "gray":
        out["background"] = "grey"
    return out


def _vocabulary_motion(attrs: Any, surface: dict[str, str]) -> str:
    if attrs.motion is None:
        return ""
    word = surface.get("motion", attrs.motion)
    if attrs.motion == "still":
        motion = "staying still" if word == "still" else word
    else:
        motion = f"moving {word}" if word in _DIRECTIONS else word
    speed = surface.get("speed", attrs.speed or "") if attrs.motion != "still" else ""
    return " ".join(p for p in (motion, speed) if p)


def vocabulary_rewrite(prompt: str, target: ModelTarget) -> Optimization:
    """``prompt`` in ``target``'s closed vocabulary: its shape, colour, size and background as the scene,
    its direction and speed as the motion (``moving right`` added when it has none). Mood and arc have
    no words there; words the model would ignore are dropped and named in a warning."""
    attrs = parse_prompt(prompt)
    surface = _surface(prompt)
    noun = " ".join(
        surface.get(slot, value) for slot, value in (("size", attrs.size), ("colour", attrs.colour)) if value
    )
    shape = surface.get("shape", attrs.shape or ("shape" if noun else ""))
    noun = " ".join(p for p in (noun, shape) if p)
    article = ("an " if noun[:1] in "aeiou" else "a ") if noun else ""
    background = f"on a {surface.get('background', attrs.background)} background" if attrs.background else ""
    scene = " ".join(p for p in (article + noun, background) if p)
    motion = _vocabulary_motion(attrs, surface)
    added = [] if motion else ["moving right"]
    motion = motion or "moving right"
    text = " ".join(p for p in (article + noun, motion, background) if p)
    kept, dropped = split_kept(prompt, text)
    warnings: list[dict[str, Any]] = []
    ignored = ignored_terms(prompt)
    if ignored:
        listed = ", ".join(repr(t) for t in ignored)
        warnings.append(
            {
                "code": "ignored_terms",
                "message": f"{target.id!r} cannot draw {listed}: they were left out of the rewrite",
                "terms": ignored,
            }
        )
    warnings.append(
        {
            "code": "layers_not_in_vocabulary",
            "message": f"{target.id!r} knows shapes, colours, sizes, motions, speeds and backgrounds only: "
            "it has no words for a mood or a temporal arc, so those layers stay empty",
        }
    )
    layers = {
        "scene": Layer(scene),
        "motion": Layer(motion, added=bool(added)),
        "mood": Layer(""),
        "arc": Layer(""),
    }
    return Optimization(text, layers, added, kept, dropped, target.id, "vocabulary", warnings=warnings)
