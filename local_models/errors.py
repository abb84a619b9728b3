"""Errors raised by model loading and input resolution.

They carry a machine-readable ``code`` and the request ``param`` they concern; they know
nothing of HTTP (the gateway maps them to responses in one place).
"""

from __future__ import annotations

from typing import ClassVar, Literal

__all__ = [
    "FramegateError",
    "GenerationCancelled",
    "InvalidInput",
    "Kind",
    "LocalModelError",
    "UnknownFamily",
    "WeightsNotFound",
]

Kind = Literal[
    "invalid",
    "unauthorized",
    "payment",
    "forbidden",
    "not_found",
    "conflict",
    "gone",
    "too_large",
    "unsupported_media",
    "rate_limited",
    "unavailable",
    "internal",
]


class FramegateError(Exception):
    """The root of every Framegate error, in every package: a machine-readable ``code``, a ``message``
    for people, the request ``param`` it concerns, and its ``kind`` (what sort of failure it is).

    Packages subclass it and set ``kind`` and ``code``; only the web layer turns a ``kind`` into an HTTP
    status (``gateway/errors.py``). ``retry_after`` (seconds) says when trying again may succeed.
    """

    kind: ClassVar[Kind] = "internal"
    code: str = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.param = param
        self.retry_after = retry_after


class LocalModelError(FramegateError):
    """Base class of every error raised by ``local_models``."""

    kind: ClassVar[Kind] = "invalid"
    code = "model_error"


class InvalidInput(LocalModelError):
    """A request that the model family cannot honour (size, frames, mode, image)."""

    code = "invalid_input"


class WeightsNotFound(LocalModelError):
    """The model's weights are missing or incomplete on local disk."""

    kind = "unavailable"
    code = "weights_not_found"


class UnknownFamily(LocalModelError):
    """A catalog entry names a family that Framegate does not know."""

    code = "unknown_family"


class GenerationCancelled(LocalModelError):
    """The caller's cancel token fired during the denoising loop."""

    code = "cancelled"
