"""Prompt help: find the scene, motion (including camera moves), mood and temporal-arc layers of a video
prompt and say what is missing. Rule-based and deterministic.

The framework: a prompt that works describes what exists in the frame (scene), how things and the
camera move (motion), the atmosphere (mood), and how the shot changes over its length (temporal arc).
When a clip comes back flat or static, the missing layer is usually why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ARC_MARKERS",
    "CAMERA_MOVES",
    "MOOD_WORDS",
    "MOTION_VERBS",
    "SCENE_WORDS",
    "STILL_WORDS",
    "SUBJECT_WORDS",
    "Analysis",
    "analyze_prompt",
    "changed_layers",
    "find_layers",
    "normalize_prompt",
    "wants_motion",
]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


SCENE_WORDS = _words("""
forest woods jungle city street alley road highway bridge river lake ocean sea beach shore coast harbor
mountain mountains valley hill hills desert canyon field meadow garden park farm village town skyline
room kitchen bedroom office studio warehouse factory station market cafe bar restaurant library church
temple castle house apartment rooftop roof window corridor hallway stairs tunnel cave space planet moon
sky clouds sunset sunrise dawn dusk night morning evening rain snow fog mist storm underwater stage arena
background backdrop landscape interior exterior pier dock lab laboratory classroom hospital
""")
SUBJECT_WORDS = _words("""
man woman person people child children boy girl girls boys crowd dancer dancers chef driver worker soldier
cat dog dogs horse bird birds fish whale deer wolf fox robot car cars train bus bicycle boat ship plane
drone truck motorcycle tree trees flower flowers candle lamp cup book phone guitar ball circle square
triangle shape cube sphere statue character couple family team band
""")
MOTION_VERBS = re.compile(
    r"\b(walk|walks|walking|run|runs|running|moving|moves|move|drift|drifts|drifting|flow|flows|flowing|"
    r"fall|falls|falling|rise|rises|rising|turn|turns|turning|spin|spins|spinning|fly|flies|flying|swim|"
    r"swims|swimming|dance|dances|dancing|jump|jumps|jumping|roll|rolls|rolling|slide|slides|sliding|"
    r"glide|glides|gliding|sway|sways|swaying|ripple|ripples|rippling|blow|blows|blowing|wave|waves|waving|"
    r"approach|approaches|approaching|leave|leaves|leaving|enter|enters|entering|crash|crashes|pour|pours|"
    r"pouring|drive|drives|driving|chase|chases|chasing|float|floats|floating|sink|sinks|sinking|"
    r"climb|climbs|climbing|descend|descends|descending|orbit|orbits|orbiting|sweep|sweeps|sweeping)\b"
)
CAMERA_MOVES = {
    "dolly": r"\bdolly(?:ing)?\b",
    "pan": r"\bpan(?:s|ning)?\b",
    "tilt": r"\btilt(?:s|ing)?\b",
    "tracking": r"\btracking\b|\btracks\b",
    "crane": r"\bcrane\b",
    "handheld": r"\bhand-?held\b",
    "zoom": r"\bzoom(?:s|ing)?\b",
    "push in": r"\bpush(?:es|ing)? in\b",
    "pull back": r"\bpull(?:s|ing)? back\b",
    "rack focus": r"\brack focus\b",
    "orbit": r"\borbit(?:s|ing)?\b",
    "aerial": r"\baerial\b|\bdrone shot\b",
    "steadicam": r"\bsteadicam\b",
    "locked-off": r"\blocked[- ]off\b|\bstatic shot\b",
    "whip pan": r"\bwhip pan\b",
    "fpv": r"\bfpv\b",
    "truck": r"\btruck(?:s|ing)? (?:left|right)\b",
}
MOOD_WORDS = _words("""
mysterious eerie calm serene tense joyful melancholic melancholy dramatic moody warm cold cinematic dreamy
nostalgic ominous peaceful quiet energetic gloomy romantic hopeful somber playful whimsical gritty
intimate epic tranquil chaotic uneasy lonely cozy cheerful sad haunting ethereal vibrant muted
golden soft harsh bleak lush tender suspenseful sinister uplifting majestic stillness atmosphere
atmospheric mood lighting
""")
ARC_MARKERS = re.compile(
    r"\b(gradually|slowly becomes|then|until|toward the end|towards the end|by the end|at the end|begins?|"
    r"starts?|transitions?|eventually|over time|at first|finally|fades? (?:in|out|to)|grows?|thickens?|"
    r"shifts? (?:to|from)|turns into|becomes|as the|before|after|reveals?|building to|ends? (?:with|on))\b"
)
STILL_WORDS = re.compile(r"\b(still|static|motionless|stationary|frozen|not moving|locked-off|unmoving)\b")
# How fast something moves: part of the motion layer when a rewrite compares prompts.
SPEED_WORDS = re.compile(
    r"\b(slow(?:ly|er)?|quick(?:ly|er)?|fast(?:er)?|rapid(?:ly)?|gentl[ey]|sudden(?:ly)?|steady|steadily|"
    r"brisk(?:ly)?|leisurely|sluggish(?:ly)?|swift(?:ly)?)\b"
)
_WORD = re.compile(r"[a-z][a-z'-]*")


@dataclass
class Analysis:
    scene: list[str] = field(default_factory=list)
    subjects: list[str] = field(default_factory=list)
    motion: list[str] = field(default_factory=list)
    camera: list[str] = field(default_factory=list)
    mood: list[str] = field(default_factory=list)
    arc: list[str] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        layers = {
            "scene": {"present": bool(self.scene or self.subjects), "found": self.scene + self.subjects},
            "motion": {
                "present": bool(self.motion or self.camera),
                "found": self.motion,
                "camera": self.camera,
            },
            "mood": {"present": bool(self.mood), "found": self.mood},
            "temporal_arc": {"present": bool(self.arc), "found": self.arc},
        }
        present = sum(1 for layer in layers.values() if layer["present"])
        return {
            "object": "prompt.analysis",
            "layers": layers,
            "subjects": self.subjects,
            "layers_present": present,
            "warnings": self.warnings,
        }


_ARTICLES = frozenset({"a", "an", "the"})


def normalize_prompt(prompt: str) -> str:
    """The prompt as the regeneration guard compares it: its words, as a set. Case, spacing,
    punctuation, articles and word order are ignored: reordering a prompt is not rewriting it."""
    return " ".join(sorted({w for w in _WORD.findall(prompt.lower()) if w not in _ARTICLES}))


def changed_layers(before: str, after: str) -> list[str]:
    """Which of the prompt's layers (scene, motion, mood, temporal_arc) a rewrite changed; ``other``
    when the words changed but none the analysis reads as a layer."""
    if normalize_prompt(before) == normalize_prompt(after):
        return []
    old, new = find_layers(before).as_dict()["layers"], find_layers(after).as_dict()["layers"]
    layers = [
        name
        for name in old
        if (old[name]["found"], old[name].get("camera")) != (new[name]["found"], new[name].get("camera"))
    ]
    # How fast it moves is part of the motion layer ("moving down slowly" -> "quickly").
    sped = set(SPEED_WORDS.findall(before.lower())) != set(SPEED_WORDS.findall(after.lower()))
    if sped and "motion" not in layers:
        layers.insert(1 if "scene" in layers else 0, "motion")
    return layers or ["other"]


def wants_motion(prompt: str) -> bool | None:
    """True if the prompt asks for movement, False if it asks for stillness, None if it says neither."""
    text = prompt.lower()
    if STILL_WORDS.search(text) and not MOTION_VERBS.search(text.replace("not moving", "")):
        return False
    if MOTION_VERBS.search(text) or any(re.search(p, text) for p in CAMERA_MOVES.values()):
        return True
    return None


def find_layers(prompt: str) -> Analysis:
    """The words of each layer the prompt has, without warnings."""
    text = prompt.lower()
    words = _WORD.findall(text)
    a = Analysis()
    a.scene = sorted({w for w in words if w in SCENE_WORDS})
    a.subjects = sorted({w for w in words if w in SUBJECT_WORDS})
    a.motion = sorted(set(MOTION_VERBS.findall(text)))
    a.camera = sorted(name for name, pattern in CAMERA_MOVES.items() if re.search(pattern, text))
    a.mood = sorted({w for w in words if w in MOOD_WORDS})
    a.arc = sorted(set(ARC_MARKERS.findall(text)))
    return a


def analyze_prompt(prompt: str) -> Analysis:
    """The prompt's layers, and a warning with a suggestion specific to the prompt for each one missing."""
    a = find_layers(prompt)
    # Suggestions name the prompt's own subject and place (imported here: prompting builds on this module).
    from gateway.engine.prompting.phrases import suggestions

    suggest = suggestions(prompt)
    warn = a.warnings.append
    segments = [s.strip() for s in re.split(r"[,;|]", prompt) if s.strip()]
    if len(segments) >= 3 and sum(len(s.split()) for s in segments) / len(segments) <= 2.5 and not a.motion:
        warn(
            {
                "code": "keyword_list",
                "message": "this reads like a search query (a list of keywords)",
                "suggestion": "write one or two sentences: what is in the frame, how it moves, the mood",
            }
        )
    if not (a.scene or a.subjects):
        warn(
            {
                "code": "missing_scene",
                "message": "no scene: nothing says what is in the frame or where",
                "suggestion": suggest["missing_scene"],
            }
        )
    if not (a.motion or a.camera):
        warn(
            {
                "code": "missing_motion",
                "message": "no motion: nothing moves and the camera is not directed, "
                "so the clip will likely come back static",
                "suggestion": suggest["missing_motion"],
            }
        )
    if not a.mood:
        warn(
            {
                "code": "missing_mood",
                "message": "no mood: nothing sets the atmosphere or tone",
                "suggestion": suggest["missing_mood"],
            }
        )
    if not a.arc:
        warn(
            {
                "code": "missing_temporal_arc",
                "message": "no temporal arc: nothing changes over the shot",
                "suggestion": suggest["missing_temporal_arc"],
            }
        )
    if len(a.subjects) >= 4:
        warn(
            {
                "code": "too_many_subjects",
                "message": f"{len(a.subjects)} subjects compete for attention ({', '.join(a.subjects)})",
                "suggestion": "keep one or two focal subjects; put the rest in other shots",
            }
        )
    return a
