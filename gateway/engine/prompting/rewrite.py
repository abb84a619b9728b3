"""The rule-based rewrite: deterministic, no model.

It keeps every clause the user wrote, word for word, grouped by the layer it carries (scene,
motion, mood, arc), and adds a phrase only for a layer the prompt lacks, derived from the prompt's own
subject and place (:mod:`gateway.engine.prompting.phrases`), in the target model's style.
"""

from __future__ import annotations

from typing import Any

from gateway.engine.prompts import analyze_prompt, find_layers, wants_motion

from .focus import Focus, clauses, find_focus, words
from .phrases import Framing, arc_phrase, camera_move, mood_phrase
from .styles import compose, split_kept, vocabulary_rewrite
from .types import LAYERS, Layer, ModelTarget, Optimization

__all__ = ["rewrite"]

# Analyzer warnings a rewrite cannot fix by adding a layer: passed on.
_PASSED_ON = ("too_many_subjects",)


def _clause_layers(clause: str, focus: Focus) -> set[str]:
    a = find_layers(clause)
    found = set()
    own = set(words(clause))
    if a.scene or a.subjects or (focus.subject in own) or (focus.place in own):
        found.add("scene")
    if a.motion or a.camera:
        found.add("motion")
    if a.mood:
        found.add("mood")
    if a.arc:
        found.add("arc")
    return found


def _primary(clause: str, layers: set[str]) -> str:
    """Where a clause goes in the rewrite: its arc last, a camera direction with the motion, a clause that
    names the subject or place with the scene (its own verbs stay with it), a bare feeling with the mood."""
    if "arc" in layers:
        return "arc"
    if find_layers(clause).camera:
        return "motion"
    for layer in ("scene", "motion", "mood"):
        if layer in layers:
            return layer
    return "scene"


def _present(prompt: str, focus: Focus) -> dict[str, bool]:
    a = find_layers(prompt)
    return {
        "scene": bool(a.scene or a.subjects or focus.subject or focus.place),
        "motion": bool(a.motion or a.camera),
        "mood": bool(a.mood),
        "arc": bool(a.arc),
    }


def _warnings(prompt: str, target: ModelTarget | None, present: dict[str, bool]) -> list[dict[str, Any]]:
    out = [w for w in analyze_prompt(prompt).warnings if w["code"] in _PASSED_ON]
    if not present["scene"]:
        out.append(
            {
                "code": "missing_scene",
                "message": "nothing says what is in the frame: name the subject and the place "
                "(a rewrite adds camera, mood and arc, never the subject you want to see)",
            }
        )
    if target is not None and target.style == "none":
        out.append(
            {
                "code": "prompt_unused",
                "message": f"{target.id!r} reads no text (image to video): the prompt is kept with the job "
                "but does not steer the clip",
            }
        )
    return out


def _layered(
    prompt: str, target: ModelTarget | None, framing: Framing | None, mood: str | None
) -> Optimization:
    focus = find_focus(prompt)
    parts: dict[str, list[str]] = {layer: [] for layer in LAYERS}
    found: dict[str, list[str]] = {layer: [] for layer in LAYERS}
    for clause in clauses(prompt) or [prompt.strip()]:
        carried = _clause_layers(clause, focus)
        parts[_primary(clause, carried)].append(clause)
        for layer in carried:
            found[layer].append(clause)
    present = _present(prompt, focus)
    additions: dict[str, str] = {}
    if not present["motion"]:
        additions["motion"] = camera_move(focus, framing=framing, still=wants_motion(prompt) is False)
    if not present["mood"]:
        additions["mood"] = mood or mood_phrase(focus, prompt)
    if not present["arc"]:
        additions["arc"] = arc_phrase(focus, prompt, framing=framing)
    for layer, phrase in additions.items():
        parts[layer].append(phrase)
    style = target.style if target is not None else "prose"
    text = compose(parts, style)
    kept, dropped = split_kept(prompt, text)
    layers = {
        layer: Layer(additions[layer], added=True) if layer in additions else Layer(", ".join(found[layer]))
        for layer in LAYERS
    }
    return Optimization(
        text,
        layers,
        list(additions.values()),
        kept,
        dropped,
        target.id if target is not None else None,
        style,
        warnings=_warnings(prompt, target, present),
    )


def rewrite(
    prompt: str,
    target: ModelTarget | None = None,
    *,
    framing: Framing | None = None,
    mood: str | None = None,
    max_chars: int = 4000,
) -> Optimization:
    """``prompt`` rewritten into its layers for ``target`` (``None``: cinematic prose). ``framing`` and
    ``mood`` steer what is added (a shot list's wide opening, the brief's tone)."""
    if target is not None and target.style == "vocabulary":
        result = vocabulary_rewrite(prompt, target)
    else:
        result = _layered(prompt, target, framing, mood)
    if len(result.prompt) > max_chars:
        result.warnings.append(
            {
                "code": "prompt_too_long",
                "message": f"the rewrite is {len(result.prompt)} characters; a video or shot takes at most "
                f"{max_chars}: shorten it before you use it",
            }
        )
    return result
