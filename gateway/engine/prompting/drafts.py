"""A shot list from a brief, by rules: the brief's visual beats become shots (a wide opening, medium
shots, a closing close-up), its tone becomes every shot's mood, each shot goes to the served model that
suits it (a shapes model when the shot is all in its vocabulary, else the best-rated open model).
"""

from __future__ import annotations

import re
from typing import Any

from gateway.engine.errors import InvalidRequest
from gateway.engine.prompts import find_layers
from local_models.shapes.vocab import ignored_terms, parse_prompt

from .focus import clauses, content_words, find_focus
from .phrases import Framing
from .rewrite import rewrite
from .types import MAX_SHOTS, DraftRequest, DraftShot, ModelTarget, ShotDraft

__all__ = ["Beats", "choose_model", "draft_shots", "read_brief", "shot_seconds"]

DEFAULT_MAX_SHOTS = 6
# "A 30-second ad for ...", "Short promo video about ...": what the piece is, not something to film.
_META = re.compile(
    r"^(?:a|an|the|our|this|one)?\s*(?:\d+(?:\.\d+)?[- ]?(?:seconds?|secs?|s|minutes?|mins?)\s+)?"
    r"(?:[a-z-]+\s+){0,2}(?:ad|advert|advertisement|commercial|video|film|spot|trailer|promo|teaser|reel|"
    r"montage|piece|story|short|clip)\b"
)
_ASIDE = re.compile(r"\b(?:audience|viewers|target|goal|objective|call to action|cta|deliverables?|budget)\b")
_TONE = re.compile(
    r"^(?:(?:it|this|the (?:video|film|ad|piece|spot|clip))\s+(?:should|must|will)\s+(?:feel|be|look|sound)"
    r"|(?:the\s+)?(?:tone|mood|feel|look|vibe)(?:\s+is|\s+should be)?)\s*:?\s*(?:like\s+)?",
    re.IGNORECASE,
)
_LENGTH = re.compile(r"\b(\d+(?:\.\d+)?)[- ]?(seconds?|secs?|s|minutes?|mins?)\b")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+|;\s*")


class Beats:
    """What a brief holds: visual beats in order, its tone, its stated length, and what the piece is."""

    def __init__(self) -> None:
        self.beats: list[str] = []
        self.moods: list[str] = []
        self.topic: str | None = None
        self.total_seconds: float | None = None


def _is_mood_only(text: str) -> bool:
    a = find_layers(text)
    focus = find_focus(text)
    return bool(a.mood) and not (a.scene or a.subjects or a.motion or a.camera or focus.subject)


def _add_beats(beats: Beats, part: str) -> None:
    added = False
    for clause in clauses(part):
        if _is_mood_only(clause):
            beats.moods.append(clause)
        elif added and len(content_words(clause)) < 2:
            beats.beats[-1] += f", {clause}"  # "a small, fluffy cat": one beat
        else:
            beats.beats.append(clause)
            added = True


def read_brief(brief: str) -> Beats:
    """The brief's beats (each clause that shows something), moods (clauses that only set a feeling or say
    how it should feel), stated length and topic (the sentence that says what the piece is)."""
    out = Beats()
    length = _LENGTH.search(brief.lower())
    if length:
        value = float(length.group(1))
        out.total_seconds = value * 60 if length.group(2).startswith("min") else value
    for sentence in _SENTENCE.split(brief):
        if not _ASIDE.search(sentence.split(":")[0].lower()):
            _read_sentence(out, sentence)
    if not out.beats:
        out.beats.append(out.topic or brief.strip())
    return out


def _read_sentence(out: Beats, sentence: str) -> None:
    for part in (p.strip(" .") for p in sentence.split(": ")):
        if not part:
            continue
        tone = _TONE.match(part)
        if tone:
            out.moods.append(part[tone.end() :].strip(" .:"))
        elif _META.match(part.lower()):
            out.topic = out.topic or part
        elif _is_mood_only(part):
            out.moods.append(part)
        else:
            _add_beats(out, part)


def _fits_vocabulary(text: str) -> bool:
    return parse_prompt(text).shape is not None and not ignored_terms(text)


def _best(models: list[ModelTarget]) -> ModelTarget:
    return max(models, key=lambda m: (m.quality, -m.price_per_second, m.id))


def choose_model(beat: str, request: DraftRequest) -> tuple[ModelTarget, str]:
    """The model for one shot and why: the one asked for; else a closed-vocabulary model when the shot
    is all in its words; else the best-rated open text-to-video model."""
    if request.model is not None:
        return request.model, f"{request.model.id} was asked for"
    models = [m for m in request.models if "t2v" in m.modes]
    if not models:
        raise InvalidRequest(
            "no model this gateway serves renders text to video", code="no_model_available", param="model"
        )
    closed = [m for m in models if m.style == "vocabulary"]
    open_ = [m for m in models if m.style != "vocabulary"]
    if closed and (_fits_vocabulary(beat) or not open_):
        best = _best(closed)
        if _fits_vocabulary(beat):
            why = f"the shot is all in its shapes vocabulary, which {best.id} draws exactly"
        else:
            why = f"only closed-vocabulary models are served: {best.id} draws just this shot's shapes words"
        return best, f"{why} (quality {best.quality:g}, {best.price_per_second:g} credits/s)"
    best = _best(open_)
    written = {"prose": "descriptive cinematic prose", "tags": "short comma-separated phrases"}.get(
        best.style, "plain text"
    )
    return best, (
        f"the best-rated text-to-video model served for open scenes (quality {best.quality:g}, "
        f"{best.family} family: prompt written as {written})"
    )


def shot_seconds(request: DraftRequest, model: ModelTarget, count: int, total: float | None) -> float:
    """Each shot's length: as asked, else the brief's stated length shared out, else the model's default;
    then the nearest length the model renders."""
    wanted = request.seconds or (total / count if total else model.default_seconds)
    return model.fit_seconds(wanted)


def _framing(index: int, count: int) -> Framing | None:
    if count == 1:
        return None
    if index == 0:
        return "wide"
    return "close" if index == count - 1 else "medium"


def _shot_beats(beats: list[str], count: int) -> list[str]:
    """``count`` beats: adjacent beats joined when there are more, beats repeated (other framings) when
    there are fewer."""
    if len(beats) <= count:
        return [beats[i * len(beats) // count] for i in range(count)]
    size, extra = divmod(len(beats), count)
    out, start = [], 0
    for i in range(count):
        end = start + size + (1 if i < extra else 0)
        out.append(", ".join(beats[start:end]))
        start = end
    return out


def draft_shots(request: DraftRequest, *, max_chars: int = 4000) -> ShotDraft:
    """A proposed shot list for ``request.brief`` (nothing is saved)."""
    brief = read_brief(request.brief)
    count = request.shots or min(3 if len(brief.beats) == 1 else len(brief.beats), DEFAULT_MAX_SHOTS)
    count = min(count, MAX_SHOTS)
    mood = ", ".join(brief.moods)[:300] or None
    shots: list[DraftShot] = []
    warnings: list[dict[str, Any]] = []
    for index, beat in enumerate(_shot_beats(brief.beats, count)):
        model, reason = choose_model(beat, request)
        framing = _framing(index, count)
        result = rewrite(beat, model, framing=framing, mood=mood, max_chars=max_chars)
        seconds = shot_seconds(request, model, count, brief.total_seconds)
        if request.seconds is not None and seconds != request.seconds:
            result.warnings.append(
                {
                    "code": "seconds_adjusted",
                    "message": f"{model.id} renders {seconds:g} s at the nearest, not {request.seconds:g} s",
                }
            )
        position = index + 1
        warnings.extend({**w, "shot": position} for w in result.warnings)
        shots.append(DraftShot(position, result.prompt, result.layers, seconds, model.id, reason, beat))
    return ShotDraft(shots, "rules", warnings)
