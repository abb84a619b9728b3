"""Request bodies and the video object the API returns (the OpenAI Videos shape plus our extras)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from billing import credits, millicredits
from gateway.api.edge import loads_json
from gateway.api.images import ValidatedImage
from gateway.engine.jobs.submission import InputImage, JobRequest
from gateway.engine.links import VideoLinks
from gateway.errors import BadRequest
from local_models.errors import InvalidInput
from local_models.spec import Mode, VideoRequest, parse_size
from router import RoutingPreferences

__all__ = [
    "FORM_TEXT",
    "VIDEO_FORM",
    "ImageReference",
    "QuoteBody",
    "RoutingBody",
    "VideoCreate",
    "decimal_text",
    "parse_model",
    "routing_preferences",
    "stripped",
    "video_object",
]


class ImageReference(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    image_url: str | None = None
    file_id: str | None = None


class RoutingBody(BaseModel):
    """``routing`` on a create: how to choose and fall back (OpenRouter's names where they fit)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    policy: Literal["cheapest", "fastest", "quality", "balanced"] = "cheapest"
    order: list[str] = Field(default_factory=list, max_length=16)
    allow_fallbacks: bool = True
    only: list[str] = Field(default_factory=list, max_length=64)
    ignore: list[str] = Field(default_factory=list, max_length=64)
    max_price: float | None = Field(default=None, ge=0, le=1e9, allow_inf_nan=False)
    max_wait_seconds: float | None = Field(default=None, gt=0, le=30 * 86400, allow_inf_nan=False)
    compare: list[str] = Field(default_factory=list, max_length=8)

    def preferences(self) -> RoutingPreferences:
        return RoutingPreferences(
            policy=self.policy,
            order=tuple(self.order),
            allow_fallbacks=self.allow_fallbacks,
            only=tuple(self.only),
            ignore=tuple(self.ignore),
            max_price_mc=None if self.max_price is None else millicredits(self.max_price),
            max_wait_seconds=self.max_wait_seconds,
        )


_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?")


def decimal_text(value: Any) -> Any:
    """A number sent as text must be plain ASCII decimal (``4``, ``2.5``): Python's float() would also
    take ``1_0``, ``1e3``, ``+1``, `` 1 ``, ``inf`` or other scripts' digits."""
    if isinstance(value, bool):  # a bool is an int to Python; to a client it is not a number
        raise PydanticCustomError("decimal_text", "must be a number, not true or false")
    if isinstance(value, str) and not _DECIMAL.fullmatch(value):
        raise PydanticCustomError("decimal_text", "must be a plain decimal number such as 4 or 2.5")
    return value


def integer_text(value: Any) -> Any:
    """An integer sent as text (a form field) must be plain ASCII digits: not ``1_0``, ``+1`` or `` 1 ``."""
    if isinstance(value, str) and not (value.isascii() and value.isdigit()):
        raise PydanticCustomError("integer_text", "must be a whole number written with the digits 0-9")
    return value


def stripped(value: Any) -> Any:
    """Text fields that must say something: surrounding spaces never count."""
    return value.strip() if isinstance(value, str) else value


def _number_or_numeric_string(schema: dict[str, Any]) -> None:
    # The OpenAI SDK sends seconds as a string ("4"); numbers are accepted as well.
    schema["anyOf"] = [
        {"type": "number", "exclusiveMinimum": 0, "maximum": 3600},
        {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$"},
        {"type": "null"},
    ]


class VideoCreate(BaseModel):
    """``POST /v1/videos``. ``seconds`` may be a string or a number, as OpenAI's SDK sends strings."""

    model_config = ConfigDict(extra="forbid", strict=True)

    prompt: str | None = None
    model: str | None = None
    seconds: float | None = Field(
        default=None,
        gt=0,
        le=3600,
        allow_inf_nan=False,
        strict=False,
        json_schema_extra=_number_or_numeric_string,
    )
    size: str | None = None
    input_reference: ImageReference | None = None
    seed: int | None = None
    steps: int | None = None
    guidance: float | None = Field(default=None, allow_inf_nan=False)
    fps: int | None = None
    frames: int | None = None
    negative_prompt: str | None = None
    audio: bool | None = None
    project: str | None = None
    routing: RoutingBody | None = None
    webhook_url: str | None = None
    characters: list[str] | None = Field(default=None, min_length=1, max_length=1)

    @field_validator("routing", "characters", mode="before")
    @classmethod
    def _routing_from_form(cls, value: Any, info: ValidationInfo) -> Any:
        # Multipart forms carry the routing object as a JSON string; a JSON body sends the object.
        if isinstance(value, str):
            if not (info.context or {}).get("form"):
                raise PydanticCustomError("model_type", "must be an object")
            # The edge rules (depth, text, numbers) apply to JSON inside a form field too.
            return loads_json(value.encode("utf-8", "surrogatepass"), param=info.field_name)
        return value

    _seconds_text = field_validator("seconds", "guidance", mode="before")(decimal_text)
    _integer_text = field_validator("seed", "steps", "fps", "frames", mode="before")(integer_text)

    @field_validator("model", "size", "negative_prompt", "project", "webhook_url")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        if value is not None:
            value = value.strip()
        return value or None

    def to_request(self, image: ValidatedImage | None, *, mode: Mode | None = None) -> JobRequest:
        """The engine's request for this body (as vLLM's protocol models convert themselves).

        ``mode`` defaults to ``i2v`` when ``image`` is given; a quote may ask for ``i2v`` without one.
        """
        size, problem = None, None
        try:
            size = parse_size(self.size) if self.size else None
        except InvalidInput as exc:
            problem = exc  # raised by the engine after the checks that come first (prompt, replay)
        video = VideoRequest(
            mode=mode or ("i2v" if image is not None else "t2v"),
            model=self.model,
            size=size,
            seconds=self.seconds,
            frames=self.frames,
            fps=self.fps,
            steps=self.steps,
            guidance=self.guidance,
            seed=self.seed,
            negative_prompt=self.negative_prompt,
            audio=self.audio,
        )
        return JobRequest(
            prompt=self.prompt or "",
            video=video,
            routing=self.routing.preferences() if self.routing is not None else None,
            compare=tuple(self.routing.compare) if self.routing is not None else (),
            project=self.project,
            image=InputImage(image.png, image.sha256) if image is not None else None,
            problem=problem,
            webhook_url=self.webhook_url,
        )


class QuoteBody(VideoCreate):
    """``POST /v1/quotes``: a create body (``prompt`` optional) plus ``models`` (an A/B compare) and ``mode``
    (instead of sending an image)."""

    models: list[str] | None = Field(default=None, min_length=1, max_length=8)
    mode: Literal["t2v", "i2v", ""] | None = None


# A multipart text part: any value arrives as text (numbers, booleans and routing's JSON included).
FORM_TEXT: dict[str, Any] = {"description": "text (numbers and JSON as their text)"}

# ``POST /v1/videos`` as multipart/form-data (the OpenAI SDK's shape): every field is text, the image a file.
VIDEO_FORM: dict[str, Any] = {
    "type": "object",
    "properties": {
        **{name: FORM_TEXT for name in VideoCreate.model_fields if name != "input_reference"},
        "input_reference": {"type": "string", "format": "binary"},
        "input_reference[image_url]": FORM_TEXT,
    },
}

M = TypeVar("M", bound=BaseModel)

_CODES = {
    "missing": "missing_parameter",
    "extra_forbidden": "unknown_parameter",
    "invalid_size": "invalid_size",
    "unsupported_size": "unsupported_size",
}


def parse_model(model: type[M], data: Any, *, lax: bool = False) -> M:
    """Validate ``data`` into ``model``; the first problem becomes a 400 naming its parameter.

    Request models are strict (JSON types as documented: ``"1"`` is not a number, ``1`` not a bool);
    ``lax`` for forms, whose fields are all text.
    """
    try:
        return model.model_validate(data, strict=False if lax else None, context={"form": lax})
    except ValidationError as exc:
        first = exc.errors()[0]
        param = ".".join(str(p) for p in first["loc"]) or None
        code = _CODES.get(first["type"], "invalid_parameter")
        message = (
            f"unknown parameter {param!r}" if code == "unknown_parameter" else f"{param}: {first['msg']}"
        )
        raise BadRequest(message, code=code, param=param) from None


def _ts(value: float | None) -> int | None:
    return None if value is None else int(value)


def _billing(row: Any) -> dict[str, Any] | None:
    """A finished job's ``billing`` block (None until it ends; a failed job was charged nothing)."""
    if row.status not in ("completed", "failed"):
        return None
    block = (row.result or {}).get("billing") or {}
    return {
        "charged": credits(row.cost_mc or 0),
        "refunded": credits(block.get("refunded_mc", 0)),
        "reason": block.get("reason"),
        "message": block.get("message"),
        "rerendered": bool(block.get("rerendered")),
        "first_seed": block.get("first_seed"),
        "first_defects": list(block.get("first_defects", [])),
        "defects": list(block.get("defects", [])),
    }


def video_object(row: Any, links: VideoLinks | None = None) -> dict[str, Any]:
    """The public JSON of a job row; with ``links``, its retention date and a signed content ``url``."""
    params = row.params or {}
    frames, fps = params.get("frames"), params.get("fps")
    if (row.result or {}).get("seconds_total"):  # an extension: the joined clip, not the new segment
        frames = row.result.get("frames", frames)
    error = None
    if row.error_code:
        error = {"code": row.error_code, "message": row.error_message or row.error_code}
    return {
        "id": row.id,
        "object": "video",
        "created_at": int(row.created_at),
        "completed_at": _ts(row.completed_at),
        "expires_at": links.expires_at(row.completed_at) if links is not None else None,
        "model": row.model,
        "status": row.status,
        "progress": int(row.progress),
        "seconds": (row.result or {}).get("seconds_total") or row.seconds,
        "size": row.size,
        "prompt": row.prompt,
        "remixed_from_video_id": row.source_video_id if row.source_kind == "remix" else None,
        "error": error,
        # Framegate extras
        "backend": row.backend,
        "cost": None if row.cost_mc is None else credits(row.cost_mc),
        "quoted_cost": credits(row.quoted_mc),
        "frames": frames,
        "fps": fps,
        "duration": round(frames / fps, 4) if frames and fps else None,
        "seed": params.get("seed"),
        "steps": params.get("steps"),
        "guidance": params.get("guidance"),
        "negative_prompt": params.get("negative_prompt"),
        "mode": params.get("mode"),
        "audio": bool((row.result or {}).get("has_audio"))
        if row.status == "completed"
        else params.get("audio"),
        "project": row.project_id,
        "eta_seconds": row.eta_seconds,
        "qc": (row.result or {}).get("qc"),
        "billing": _billing(row),
        "upsampled_from": ((row.result or {}).get("backend_metadata") or {}).get("upsampled_from"),
        "derived_from": {"video_id": row.source_video_id, "kind": row.source_kind}
        if row.source_kind
        else None,
        "webhook_url": row.webhook_url,
        "expired": row.expired_at is not None,
        "url": links.url(row.id)
        if links is not None and row.status == "completed" and not row.expired_at
        else None,
    }


def routing_preferences(config: Mapping[str, Any]) -> RoutingPreferences:
    """Routing given in the config file (defaults, per key), checked as a request's ``routing`` is."""
    return parse_model(RoutingBody, dict(config)).preferences()
