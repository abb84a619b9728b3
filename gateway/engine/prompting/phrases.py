"""The words a missing layer needs, derived from the prompt's own focus: a camera move on its subject, a mood
that fits its place and time, an arc of how the shot changes. The analyzer's suggestions and the rule-based
rewrite both use these, so "a cat on a sofa" is told "slow push in on the cat on the sofa", not a forest.

Every phrase is recognised by :func:`gateway.engine.prompts.analyze_prompt` as its layer.
"""

from __future__ import annotations

from typing import Literal

from gateway.engine.prompts import MOTION_VERBS

from .focus import Focus, find_focus, words, wordset

__all__ = ["Framing", "arc_phrase", "camera_move", "mood_phrase", "suggestions"]

Framing = Literal["wide", "medium", "close"]

_AERIAL = wordset(
    "mountain mountains valley ocean sea desert canyon coast skyline city landscape hills hill field meadow "
    "lake river harbor bay island glacier"
)
_SKY = wordset("sky clouds sunset sunrise dawn dusk night storm moon planet space stars")
_INTERIOR = wordset("""
    room kitchen bedroom office studio cafe bar restaurant library apartment house interior corridor hallway
    sofa couch bed table desk chair fireplace window shop store classroom hospital lab laboratory
    """)
_WATER = wordset("ocean sea beach shore coast lake river harbor pier dock underwater bay waves")
_CITY = wordset("city street streets alley road highway skyline station market rooftop")
_WOODS = wordset("forest woods jungle trees")

# (words that trigger it, the mood) in order of precedence: weather and time of day set the light first.
_MOODS: tuple[tuple[frozenset[str], str], ...] = (
    (
        wordset("mist misty fog foggy haze"),
        "quiet, slightly eerie, absolute stillness but for the mist",
    ),
    (wordset("rain rainy storm thunder"), "tense and brooding, grey rain-soaked light"),
    (wordset("snow snowy winter ice frost"), "hushed and cold, soft diffused light"),
    (wordset("night midnight neon dark"), "moody and quiet, pools of warm light in the dark"),
    (wordset("sunset dusk evening twilight"), "calm and nostalgic, warm golden light"),
    (wordset("sunrise dawn morning"), "fresh and hopeful, soft morning light"),
    (_WOODS, "quiet and mysterious, shafts of soft light through the canopy"),
    (_INTERIOR, "warm and cozy, soft window light"),
    (_WATER, "calm and serene, soft diffused light"),
    (_CITY, "vibrant and gritty, neon-tinged street light"),
)
_ARCS: tuple[tuple[frozenset[str], str], ...] = (
    (
        wordset("mist misty fog foggy haze"),
        "the mist thickens gradually toward the end of the clip",
    ),
    (wordset("rain rainy storm"), "the rain grows gradually heavier toward the end of the clip"),
    (wordset("snow snowy"), "the snowfall thickens gradually toward the end of the clip"),
    (
        wordset("sunset dusk evening twilight"),
        "the sky darkens gradually toward the end of the clip",
    ),
    (wordset("sunrise dawn morning"), "the light brightens gradually toward the end of the clip"),
)


def camera_move(focus: Focus, *, framing: Framing | None = None, still: bool = False) -> str:
    """A camera direction for the prompt's focus (a locked-off shot when it asks for stillness)."""
    if still:
        return f"locked-off static shot of {focus.phrase}"
    if framing == "close":
        return f"slow push in to a close-up of {focus.noun}"
    if focus.kind in ("landscape", "none"):
        place = focus.place or ""
        if place in _AERIAL:
            move = f"slow aerial glide over {focus.noun}"
        elif place in _SKY:
            move = f"slow tilt up toward {focus.noun}"
        elif place:
            move = f"slow dolly forward through {focus.noun}"
        else:
            move = "slow push in, camera at eye level"
        return f"wide establishing shot, {move}" if framing == "wide" else move
    if framing == "wide":
        return f"wide establishing shot, slow dolly forward toward {focus.phrase}"
    if focus.kind == "person":
        return f"smooth tracking shot following {focus.phrase}"
    if focus.kind == "vehicle":
        return f"tracking shot alongside {focus.phrase}"
    return f"slow push in on {focus.phrase}"


def mood_phrase(focus: Focus, prompt: str) -> str:
    """An atmosphere that fits the prompt's weather, time, place or subject, lit on its focus."""
    present = set(words(prompt))
    mood = next((m for trigger, m in _MOODS if present & trigger), None)
    if mood is None:
        mood = (
            "intimate and warm, soft natural light"
            if focus.kind == "person"
            else "calm and quiet, soft light"
        )
    return f"{mood} on {focus.phrase}" if focus.kind not in ("landscape", "none") else mood


def arc_phrase(focus: Focus, prompt: str, *, framing: Framing | None = None) -> str:
    """How the shot develops over its length: the weather or light changing, or the camera arriving."""
    present = set(words(prompt))
    arc = next((a for trigger, a in _ARCS if present & trigger), None)
    if arc is not None:
        return arc
    if focus.subject and framing != "close":
        return f"gradually ending on a close-up of {focus.noun}"
    where = f" on {focus.noun}" if focus.subject or focus.place else ""
    return f"the light{where} warms gradually toward the end of the clip"


def _scene_hint(prompt: str) -> str:
    verbs = MOTION_VERBS.findall(prompt.lower())
    doing = (
        f"what is {verbs[0]} and where" if verbs and verbs[0].endswith("ing") else "the subject and the place"
    )
    return f"name {doing}, with detail: what it looks like, the place, the time of day and the light"


def suggestions(prompt: str) -> dict[str, str]:
    """The analyzer's suggestion for each missing layer, specific to ``prompt``."""
    focus = find_focus(prompt)
    return {
        "missing_scene": _scene_hint(prompt),
        "missing_motion": f"say what moves and how the camera moves (e.g. '{camera_move(focus)}')",
        "missing_mood": f"add the feeling (e.g. '{mood_phrase(focus, prompt)}')",
        "missing_temporal_arc": f"say how the shot develops (e.g. '{arc_phrase(focus, prompt)}')",
    }
