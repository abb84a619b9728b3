"""What the LLM engine asks (strict JSON of a given shape) and how its answers are checked: a rewrite must
keep the user's own words and fit the prompt limit; a shot list must have the right number of shots, each
with a prompt, a served model, a length and a reason. Anything else is an :class:`LlmFailure`."""

from __future__ import annotations

import json
from typing import Any

from gateway.engine.prompts import find_layers
from local_models.shapes.vocab import ignored_terms

from .focus import content_words, missing_words
from .styles import compose
from .types import LAYERS, MAX_SHOTS, DraftRequest, DraftShot, Layer, ModelTarget, Optimization, ShotDraft

__all__ = ["LlmFailure", "checked_draft", "checked_optimization", "draft_messages", "optimize_messages"]


class LlmFailure(Exception):
    """The LLM's answer cannot be used; ``reason`` completes "the prompt model ..."."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_LAYERS_TEXT = (
    "A prompt that works has four layers: scene (what is in the frame: the subject, the place, details, "
    "light), motion (how things move and how the camera moves, in cinematography terms: slow push in, "
    "tracking shot, dolly, pan, tilt, handheld, aerial), mood (atmosphere and tone) and arc (how the shot "
    "changes over its length, e.g. 'the mist thickens gradually toward the end of the clip')."
)
OPTIMIZE_SYSTEM = (
    "You rewrite prompts for text-to-video models. " + _LAYERS_TEXT + " Keep every concrete element of the "
    "user's prompt in the user's own words; add only what a missing layer needs; never add another subject. "
    'Answer with one JSON object and nothing else: {"scene": "...", "motion": "...", "mood": "...", '
    '"arc": "...", "prompt": "the whole rewritten prompt"}'
)
DRAFT_SYSTEM = (
    "You plan shot lists for AI video. From a creative brief, propose the shots that together tell it, one "
    "clip each, each with its own prompt. " + _LAYERS_TEXT + " Pick each shot's model from the models "
    "given (their ids only) and say why in one sentence. Answer with one JSON object and nothing else: "
    '{"shots": [{"prompt": "...", "scene": "...", "motion": "...", "mood": "...", "arc": "...", '
    '"seconds": 4, "model": "<id>", "reason": "...", "beat": "the part of the brief it shows"}]}'
)
_STYLES = {
    "prose": "long descriptive cinematic prose: one paragraph of 3 to 6 full sentences (60 to 150 words) "
    "in the order scene, motion, mood, arc; these models were trained on detailed captions",
    "tags": "short comma-separated phrases, the most important first, under 60 words",
    "none": "cinematic prose (this model reads no text, but the prompt is kept with the job)",
    "vocabulary": "only these words: circle, square, triangle; red, green, blue, yellow, white, orange, "
    "purple; small, big; moving left, right, up, down, or still; slowly, quickly; on a black, gray or "
    "dark blue background. No other words.",
}


def _model_facts(model: ModelTarget) -> dict[str, Any]:
    seconds: Any = (
        list(model.seconds_allowed) if model.seconds_allowed else [model.min_seconds, model.max_seconds]
    )
    return {
        "id": model.id,
        "family": model.family,
        "quality": model.quality,
        "credits_per_second": model.price_per_second,
        "seconds": seconds,
        "default_seconds": model.default_seconds,
        "write_prompts_as": _STYLES[model.style],
    }


def optimize_messages(prompt: str, target: ModelTarget | None, base: Optimization) -> list[dict[str, str]]:
    request = {
        "prompt": prompt,
        "model": {"id": target.id, "family": target.family} if target is not None else None,
        "write_as": _STYLES[target.style if target is not None else "prose"],
        "missing_layers": [name for name, layer in base.layers.items() if layer.added],
        "keep_these_words": content_words(prompt),
    }
    return [
        {"role": "system", "content": OPTIMIZE_SYSTEM},
        {"role": "user", "content": json.dumps(request)},
    ]


def draft_messages(request: DraftRequest, max_chars: int) -> list[dict[str, str]]:
    models = [request.model] if request.model is not None else [m for m in request.models if "t2v" in m.modes]
    ask = {
        "brief": request.brief,
        "shots": request.shots or "as many as the brief needs, 3 to 6",
        "seconds_per_shot": request.seconds,
        "models": [_model_facts(m) for m in models],
        "max_prompt_characters": max_chars,
    }
    return [{"role": "system", "content": DRAFT_SYSTEM}, {"role": "user", "content": json.dumps(ask)}]


def _text(value: Any, what: str, max_chars: int, *, required: bool = False) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or "\x00" in value:
        raise LlmFailure(f"answered a {what} that is not text")
    text = value.strip()
    if required and not text:
        raise LlmFailure(f"answered an empty {what}")
    if len(text) > max_chars:
        raise LlmFailure(f"answered a {what} of {len(text)} characters (the limit is {max_chars})")
    return text


def checked_optimization(
    answer: dict[str, Any], prompt: str, target: ModelTarget | None, base: Optimization, max_chars: int
) -> Optimization:
    """The LLM's rewrite, if it has the shape asked for and keeps every word of the user's prompt."""
    texts = {layer: _text(answer.get(layer), f"{layer} layer", max_chars) for layer in LAYERS}
    style = target.style if target is not None else "prose"
    whole = answer.get("prompt")
    if whole is None:
        whole = compose({layer: [t] for layer, t in texts.items() if t}, style)
    text = _text(whole, "prompt", max_chars, required=True)
    missing = missing_words(content_words(prompt), text)
    if missing:
        raise LlmFailure(f"dropped the prompt's own words ({', '.join(repr(w) for w in missing[:8])})")
    layers = {
        name: Layer(
            texts[name] or ("" if base.layers[name].added else base.layers[name].text),
            added=base.layers[name].added and bool(texts[name]),
        )
        for name in LAYERS
    }
    added = [layers[name].text for name in LAYERS if layers[name].added]
    warnings = [
        w
        for w in base.warnings
        if not (w["code"] == "missing_scene" and texts["scene"]) and w["code"] != "prompt_too_long"
    ]
    return Optimization(
        text, layers, added, content_words(prompt), [], base.model, style, engine="llm", warnings=warnings
    )


def _seconds(value: Any, index: int) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 3600:
        raise LlmFailure(f"answered shot {index} with seconds that are not a length ({value!r})")
    return float(value)


def _checked_shot(shot: Any, index: int, request: DraftRequest, max_chars: int) -> DraftShot:
    if not isinstance(shot, dict):
        raise LlmFailure(f"answered shot {index} as something other than an object")
    prompt = _text(shot.get("prompt"), f"shot {index} prompt", max_chars, required=True)
    served = {m.id: m for m in request.models if "t2v" in m.modes}
    named = shot.get("model")
    model = request.model or (served.get(named) if isinstance(named, str) else None)
    if model is None:
        raise LlmFailure(f"named a model the gateway does not serve for shot {index} ({shot.get('model')!r})")
    if model.style == "vocabulary" and ignored_terms(prompt):
        raise LlmFailure(f"wrote shot {index} with words {model.id} would ignore")
    reason = _text(shot.get("reason"), f"shot {index} reason", 1000, required=True)
    beat = _text(shot.get("beat"), f"shot {index} beat", max_chars)
    wanted = request.seconds or _seconds(shot.get("seconds"), index) or model.default_seconds
    had = find_layers(beat) if beat else None
    present = {
        "scene": bool(had and (had.scene or had.subjects)),
        "motion": bool(had and (had.motion or had.camera)),
        "mood": bool(had and had.mood),
        "arc": bool(had and had.arc),
    }
    layers = {}
    for name in LAYERS:
        text = _text(shot.get(name), f"shot {index} {name} layer", max_chars)
        layers[name] = Layer(text, added=bool(text) and beat != "" and not present[name])
    return DraftShot(index, prompt, layers, model.fit_seconds(wanted), model.id, reason, beat)


def checked_draft(answer: dict[str, Any], request: DraftRequest, max_chars: int) -> ShotDraft:
    """The LLM's shot list, if it has the shape asked for: the number of shots asked (1 to 12 when none
    was), each with a prompt within the limit, a model the gateway serves, a length and a reason."""
    shots = answer.get("shots")
    if not isinstance(shots, list) or not shots:
        raise LlmFailure("answered no shot list")
    if request.shots is not None and len(shots) != request.shots:
        raise LlmFailure(f"answered {len(shots)} shots, not the {request.shots} asked for")
    if len(shots) > MAX_SHOTS:
        raise LlmFailure(f"answered {len(shots)} shots (at most {MAX_SHOTS})")
    return ShotDraft([_checked_shot(shot, i, request, max_chars) for i, shot in enumerate(shots, 1)], "llm")
