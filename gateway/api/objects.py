"""The objects the API returns, as documented in ``/openapi.json`` (the handlers build them as plain dicts;
these models are their contract, checked against real responses by the Schemathesis suite).

Objects may grow new fields (``extra="allow"``); the fields named here are always present.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

__all__ = [
    "Account",
    "BackendList",
    "CheckoutSession",
    "Cut",
    "Deleted",
    "ErrorResponse",
    "Health",
    "LedgerPage",
    "ModelList",
    "ModelObject",
    "PackList",
    "Project",
    "ProjectList",
    "PromptAnalysis",
    "QcReport",
    "QuoteResult",
    "Readiness",
    "RouteExplanation",
    "Shot",
    "ShotList",
    "TakeList",
    "UsageReport",
    "Video",
    "VideoBatch",
    "VideoPage",
    "WebhookAck",
]


class _Object(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorDetail(_Object):
    code: str
    message: str
    param: str | None
    type: str


class ErrorResponse(_Object):
    """Every 4xx and 5xx answer."""

    error: ErrorDetail


class VideoError(_Object):
    code: str
    message: str


class VideoBilling(_Object):
    """What a job cost: ``charged`` net of ``refunded`` (credits), and why (QC-gated settlement)."""

    charged: float
    refunded: float
    reason: str | None
    message: str | None
    rerendered: bool
    first_seed: int | None
    first_defects: list[str]  # the first take's hard defects, when it was re-rendered
    defects: list[str]  # the delivered take's hard defects (refunded when there are any)


class Video(_Object):
    """The OpenAI video object, plus Framegate's fields (backend, cost, frames, seed, qc...)."""

    id: str
    object: Literal["video"]
    created_at: int
    completed_at: int | None
    expires_at: int | None
    model: str
    status: Literal["queued", "in_progress", "completed", "failed"]
    progress: int
    seconds: str
    size: str
    prompt: str
    remixed_from_video_id: str | None
    error: VideoError | None
    backend: str | None
    cost: float | None
    quoted_cost: float
    frames: int | None
    fps: int | None
    duration: float | None
    seed: int | None
    steps: int | None
    guidance: float | None
    negative_prompt: str | None
    mode: str | None
    audio: bool | None
    project: str | None
    eta_seconds: float | None
    qc: dict[str, Any] | None
    billing: VideoBilling | None


class VideoBatch(_Object):
    """A create with ``routing.compare``: one video per model."""

    object: Literal["list"]
    data: list[Video]


class VideoPage(_Object):
    object: Literal["list"]
    data: list[Video]
    first_id: str | None
    last_id: str | None
    has_more: bool


class Deleted(_Object):
    id: str
    object: str
    deleted: bool


class ModelObject(_Object):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str
    family: str
    modes: list[str]
    sizes: dict[str, Any]
    frames: dict[str, Any]
    fps: int
    fps_range: list[int]
    default_seconds: float
    default_steps: int
    audio: bool
    negative_prompt: bool
    price: dict[str, Any]
    seconds_allowed: list[float] | None
    fixed_parameters: list[str]
    provider: str | None
    backends: list[str]


class ModelList(_Object):
    object: Literal["list"]
    data: list[ModelObject]


class Health(_Object):
    status: str


class Readiness(_Object):
    status: Literal["ready", "unavailable"]


class Account(_Object):
    object: Literal["account"]
    id: str
    name: str
    balance: float
    held: float
    available: float
    qc_settlement: Literal["hard_defects", "off"]
    key: dict[str, Any]


class LedgerEntry(_Object):
    id: int
    object: Literal["ledger.entry"]
    kind: str
    amount: float
    transfer_id: str
    video_id: str | None
    model: str | None
    reason: str | None
    created_at: int


class LedgerPage(_Object):
    object: Literal["list"]
    data: list[LedgerEntry]
    has_more: bool
    last_id: int | None


class UsageReport(_Object):
    object: Literal["list"]
    group_by: Literal["day", "model", "key"]
    data: list[dict[str, Any]]


class Quote(_Object):
    model: str
    backend: str
    cost: float
    size: str
    frames: int
    fps: int
    steps: int
    mode: str


class QuoteResult(_Object):
    object: Literal["quote"]
    data: list[Quote]
    total: float


class RouteExplanation(_Object):
    object: Literal["route.explanation"]
    policy: str
    ranked: list[dict[str, Any]]
    excluded: list[dict[str, Any]]


class BackendList(_Object):
    object: Literal["list"]
    data: list[dict[str, Any]]


class PromptAnalysis(_Object):
    object: Literal["prompt.analysis"]
    layers: dict[str, Any]
    subjects: list[str]
    layers_present: int
    warnings: list[dict[str, Any]]


class QcReport(_Object):
    object: Literal["qc.report"]
    frames: int
    fps: float
    width: int
    height: int
    scores: dict[str, Any]
    flags: list[dict[str, Any]]
    passed: bool


class Project(_Object):
    id: str
    object: Literal["project"]
    name: str
    brief: str | None
    budget: float | None
    committed: float
    created_at: int


class ProjectList(_Object):
    object: Literal["list"]
    data: list[Project]


class Take(_Object):
    id: str
    object: Literal["take"]
    shot_id: str
    video: Video
    model: str
    backend: str
    status: str
    winner: bool
    qc_flags: list[str]
    created_at: int


class TakeList(_Object):
    object: Literal["list"]
    data: list[Take]


class Shot(_Object):
    id: str
    object: Literal["shot"]
    project_id: str
    position: int
    prompt: str
    size: str | None
    seconds: float | None
    notes: str | None
    has_image: bool
    created_at: int
    takes: list[Take] = []
    winner_take_id: str | None = None


class ShotList(_Object):
    object: Literal["list"]
    data: list[Shot]


class Cut(_Object):
    id: str
    object: Literal["cut"]
    project_id: str
    takes: list[str]
    size: str
    fps: int
    seconds: float
    url: str
    # Continuity between adjacent winners: {"flags": [{"code": "continuity_jump", "message", "shots"}],
    # "scores": [{"shots": [a, b], "cut_luma_jump", ...}]}; null when no clip could be read.
    qc: dict[str, Any] | None = None


class Pack(_Object):
    id: str
    credits: float
    price_cents: int
    currency: str
    name: str | None


class PackList(_Object):
    object: Literal["list"]
    data: list[Pack]
    enabled: bool


class CheckoutSession(_Object):
    object: Literal["checkout.session"]
    id: str
    url: str
    pack: str
    credits: float


class WebhookAck(_Object):
    received: bool
    outcome: str
