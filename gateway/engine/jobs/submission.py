"""What the engine needs to create a job: the domain request the web layer's bodies convert to."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gateway.engine.errors import InvalidRequest
from local_models.errors import FramegateError
from local_models.spec import GenerationParams, VideoRequest
from router import Candidate, RoutingPreferences

__all__ = ["InputImage", "JobCandidate", "JobRequest", "check_compare", "format_seconds"]


@dataclass(frozen=True)
class InputImage:
    """A reference image already validated and re-encoded as PNG by the web layer."""

    png: bytes
    sha256: str


@dataclass(frozen=True)
class JobRequest:
    """A generation to queue: the prompt, the :class:`VideoRequest`, how to route it, where it belongs.

    ``routing`` ``None`` takes the key's (or the gateway's) default routing. ``compare`` lists models for
    an A/B comparison: one job per model, each held to that model (no fallbacks). A job created with
    ``video.mode`` ``i2v`` needs ``image``; a quote may ask for ``i2v`` without one. ``problem`` is a
    field the caller's body could not be converted from (a malformed size): the engine raises it at
    the point of its own checks where that field is read, so errors come in the same order for
    every caller. ``webhook_url`` gets the job's terminal event; ``source`` is the video a remix,
    extension or edit was made from.
    """

    prompt: str
    video: VideoRequest
    routing: RoutingPreferences | None = None
    compare: tuple[str, ...] = ()
    project: str | None = None
    image: InputImage | None = None
    problem: FramegateError | None = None
    webhook_url: str | None = None  # checked by the caller against the outbound address rules
    source: tuple[str, str] | None = None  # (video id, "remix" | "extension" | "edit") it derives from

    def fingerprint(self) -> dict[str, Any]:
        """What makes a retry the same request (``Idempotency-Key``): every field, the image by its
        hash, so another image or another webhook under the same key is a conflict, not a replay."""
        return {
            "prompt": self.prompt,
            "video": repr(self.video),
            "routing": repr(self.routing),
            "compare": list(self.compare),
            "project": self.project,
            "image": self.image.sha256 if self.image is not None else None,
            "problem": self.problem.code if self.problem is not None else None,
            "webhook_url": self.webhook_url,
            "source": list(self.source) if self.source is not None else None,
        }


def check_compare(models: Sequence[str]) -> None:
    """An A/B compare names each model once (``invalid_routing`` otherwise), however it is sent."""
    if len(set(models)) != len(models):
        raise InvalidRequest(
            "routing.compare lists a model twice", code="invalid_routing", param="routing.compare"
        )


def format_seconds(value: float) -> str:
    """``4.0`` -> ``"4"``, ``2.5`` -> ``"2.5"`` (the job's ``seconds``, as the OpenAI shape has it)."""
    return str(int(value)) if math.isclose(value, round(value)) else f"{value:g}"


@dataclass(frozen=True)
class JobCandidate:
    """One step of a job's fallback chain: the model and backend, what it runs and what it costs.

    The job row keeps the chain as JSON (``as_record``); the worker reads it back typed (``chain_of``).
    """

    model: str
    backend: str
    params: GenerationParams
    price_mc: int

    @classmethod
    def of(cls, candidate: Candidate) -> JobCandidate:
        return cls(candidate.spec.id, candidate.backend, candidate.params, candidate.price_mc)

    def as_record(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "backend": self.backend,
            "params": self.params.as_dict(),
            "price_mc": self.price_mc,
        }

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> JobCandidate:
        return cls(
            str(data["model"]),
            str(data["backend"]),
            GenerationParams.from_dict(data["params"]),
            int(data["price_mc"]),
        )

    @classmethod
    def chain_of(cls, job: Any) -> list[JobCandidate]:
        """The job row's fallback chain (a job without one runs only what it was routed to)."""
        if job.candidates:
            return [cls.from_record(c) for c in job.candidates]
        return [cls(job.model, job.backend, GenerationParams.from_dict(job.params), job.quoted_mc)]
