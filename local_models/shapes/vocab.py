"""The shapes models' closed vocabulary: concepts, their words, prompt parsing and prompt writing.

A prompt is read as a bag of concept words in any order; words outside the vocabulary are
filler and ignored ("a small yellow triangle drifting slowly upward on a gray background").
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

__all__ = [
    "BACKGROUNDS",
    "COLOURS",
    "MOTIONS",
    "SHAPES",
    "SIZES",
    "SLOTS",
    "SPEEDS",
    "Attributes",
    "concept_words",
    "ignored_terms",
    "parse_prompt",
    "write_prompt",
]

# RGB in 0-255. Chosen to be far apart from each other and from every background.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (225, 35, 35),
    "green": (40, 200, 60),
    "blue": (50, 100, 245),
    "yellow": (240, 225, 40),
    "white": (245, 245, 245),
    "orange": (250, 135, 20),
    "purple": (160, 50, 210),
}
BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "black": (0, 0, 0),
    "gray": (100, 100, 100),
    "dark blue": (12, 22, 70),
}
SHAPES = ("circle", "square", "triangle")
MOTIONS = ("left", "right", "up", "down", "still")
SPEEDS = ("slowly", "quickly")
SIZES = ("small", "big")
SLOTS = ("colour", "shape", "motion", "speed", "background", "size")

# Surface words for each concept (every word here is in the tokenizer's vocabulary).
_WORDS: dict[str, dict[str, tuple[str, ...]]] = {
    "colour": {c: (c,) for c in COLOURS} | {"gray": ()},
    "shape": {
        "circle": ("circle", "circles", "disc", "disk", "ball", "dot"),
        "square": ("square", "squares", "box", "block"),
        "triangle": ("triangle", "triangles"),
    },
    "motion": {
        "left": ("left", "leftward", "leftwards", "westward"),
        "right": ("right", "rightward", "rightwards", "eastward"),
        "up": ("up", "upward", "upwards", "rising", "rises", "climbing", "ascending"),
        "down": ("down", "downward", "downwards", "falling", "falls", "dropping", "descending", "sinking"),
        "still": ("still", "stationary", "motionless", "static", "resting", "unmoving"),
    },
    "speed": {
        "slowly": ("slowly", "slow", "gently", "leisurely"),
        "quickly": ("quickly", "quick", "fast", "rapidly", "swiftly", "speedily"),
    },
    "size": {"small": ("small", "tiny", "little"), "big": ("big", "large", "huge")},
}
_BG_WORDS = {"black": ("black",), "gray": ("gray", "grey"), "dark blue": ()}


@dataclass(frozen=True)
class Attributes:
    """What a prompt asks for; ``None`` means unspecified (the model picks)."""

    colour: str | None = None
    shape: str | None = None
    motion: str | None = None
    speed: str | None = None
    background: str | None = None
    size: str | None = None

    def slot_values(self) -> tuple[str | None, ...]:
        return tuple(getattr(self, slot) for slot in SLOTS)


def concept_words() -> dict[str, str]:
    """Every vocabulary word and the concept it names, as ``"slot:value"`` (filler words excluded)."""
    out: dict[str, str] = {}
    for slot, table in _WORDS.items():
        for concept, words in table.items():
            for word in words:
                out[word] = f"{slot}:{concept}"
    for concept, words in _BG_WORDS.items():
        for word in words:
            out.setdefault(word, f"background:{concept}")
    return out


_TOKEN = re.compile(r"[a-z]+")
_NOT_MOVING = re.compile(r"\b(?:not|never|isn't|doesn't)\s+(?:moving|move|moves)\b")
_BG_CONTEXT = ("background", "backdrop", "bg")


def parse_prompt(prompt: str) -> Attributes:
    """Read attributes from free text. Colour words after "on"/"against" or before "background" name
    the background; "dark blue" is a background colour, "blue" alone a shape colour."""
    words = _TOKEN.findall(_NOT_MOVING.sub("motionless", prompt.lower().replace("grey", "gray")))
    found: dict[str, str] = {}
    lookup = concept_words()
    i = 0
    while i < len(words):
        word = words[i]
        nxt = words[i + 1] if i + 1 < len(words) else ""
        prev = words[i - 1] if i > 0 else ""
        if word == "dark" and nxt == "blue":
            found["background"] = "dark blue"
            i += 2
            continue
        in_bg = nxt in _BG_CONTEXT or prev in ("on", "against", "over")
        if in_bg and word in ("black", "gray", "white"):
            found["background"] = word if word != "white" else found.get("background", "gray")
        elif word in lookup:
            slot, concept = lookup[word].split(":", 1)
            found.setdefault(slot, concept)
        i += 1
    if found.get("colour") == "gray":
        found.pop("colour")
    return Attributes(**found)


# Words that carry no content of their own: grammar, the ways of saying "moving", and words about the
# clip itself. Anything else outside the vocabulary asks for something the model cannot draw.
_GRAMMAR = frozenset(
    _TOKEN.findall(
        "a an the one single lone is are it its and or of on in at to toward towards over against across "
        "from into with while then as by very slightly gradually steadily smoothly along around this that "
        "moving moves move drifting drifts sliding slides gliding glides travelling traveling travels "
        "heading heads going goes floating floats staying stays sitting sits standing background backdrop "
        "bg dark not never isn doesn t s shot clip video scene frame shape thing object"
    )
)


def ignored_terms(prompt: str) -> list[str]:
    """The words of ``prompt`` the shapes models cannot honour, in order: words outside the vocabulary
    ("cat", "sofa", "camera"), a background colour they do not draw ("red background"), and a second
    value for something already asked (the "blue square" of "a red circle and a blue square")."""
    text = _NOT_MOVING.sub("motionless", prompt.lower().replace("grey", "gray"))
    words = _TOKEN.findall(text)
    lookup = concept_words()
    seen: dict[str, str] = {}
    out: list[str] = []
    for i, word in enumerate(words):
        nxt = words[i + 1] if i + 1 < len(words) else ""
        prev = words[i - 1] if i > 0 else ""
        if (word == "dark" and nxt == "blue") or (word == "blue" and prev == "dark"):
            continue
        if nxt in _BG_CONTEXT and word in COLOURS and word not in BACKGROUNDS:
            out.append(f"{word} {nxt}")
            continue
        if word in lookup:
            slot, concept = lookup[word].split(":", 1)
            if seen.setdefault(slot, concept) != concept:
                out.append(word)
        elif word not in _GRAMMAR and word not in ("white", "gray", "black"):
            out.append(word)
    return list(dict.fromkeys(out))


_FILLERS = ("a", "an", "one", "single", "lone")
_MOVERS = ("moving", "drifting", "sliding", "gliding", "travelling", "heading", "going", "floating")


def write_prompt(attrs: Attributes, rng: random.Random, *, style: int | None = None) -> str:
    """A natural phrasing of ``attrs`` (several templates and synonyms; used for data and tests)."""
    pick = rng.choice

    def word(slot: str, value: str | None) -> str:
        if value is None:
            return ""
        if slot == "background":
            return value if value != "gray" else pick(("gray", "grey"))
        return pick(_WORDS[slot][value])

    colour = attrs.colour or ""
    singular = {
        "circle": ("circle", "disc", "ball", "dot"),
        "square": ("square", "box", "block"),
        "triangle": ("triangle",),
    }
    shape = pick(singular[attrs.shape]) if attrs.shape else ""
    shape = shape or pick(("shape", "thing", "object"))
    size = word("size", attrs.size)
    noun = " ".join(w for w in (size, colour, shape) if w)
    speed = word("speed", attrs.speed) if attrs.motion != "still" else ""
    if attrs.motion is None:
        motion = ""
    elif attrs.motion == "still":
        motion = pick(
            ("staying still", "standing still", "resting", "motionless", "not moving", "stationary")
        )
    else:
        direction = word("motion", attrs.motion)
        if direction in (
            "rising",
            "rises",
            "climbing",
            "ascending",
            "falling",
            "falls",
            "dropping",
            "descending",
            "sinking",
        ):
            motion = direction
        elif direction in ("left", "right", "up", "down"):
            to_the = pick(("", "to the ")) if direction in ("left", "right") else ""
            motion = f"{pick(_MOVERS)} {to_the}{direction}"
        else:
            motion = f"{pick(_MOVERS)} {direction}"
        motion = " ".join(motion.split())
    bg = ""
    if attrs.background:
        bg = pick(
            (
                f"on a {word('background', attrs.background)} background",
                f"against a {word('background', attrs.background)} backdrop",
                f"over a {word('background', attrs.background)} background",
            )
        )
    style = rng.randrange(4) if style is None else style
    motion_speed = " ".join(p for p in ((motion, speed) if rng.random() < 0.5 else (speed, motion)) if p)
    if style == 0:
        text = f"{pick(_FILLERS)} {noun} {motion_speed} {bg}"
    elif style == 1:
        text = f"{bg}, {pick(_FILLERS)} {noun} {motion_speed}" if bg else f"{noun} {motion_speed}"
    elif style == 2:
        text = f"{motion_speed}, {pick(_FILLERS)} {noun} {bg}" if motion_speed else f"the {noun} {bg}"
    else:
        text = f"the {noun} is {motion_speed} {bg}"
    text = re.sub(r"\ban ([^aeiou])", r"a \1", re.sub(r"\ba ([aeiou])", r"an \1", text))
    return " ".join(text.replace(" ,", ",").split()).strip(", ")
