"""Errors raised by model loading and input resolution.

They carry a machine-readable ``code`` and the request ``param`` they concern; they know
nothing of HTTP (the gateway maps them to responses in one place).
"""

from __future__ import annotations


class LocalModelError(Exception):
    """Base class of every error raised by ``local_models``."""

    code = "model_error"

    def __init__(self, message: str, *, code: str | None = None, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.param = param


class InvalidInput(LocalModelError):
    """A request that the model family cannot honour (size, frames, mode, image)."""

    code = "invalid_input"


class WeightsNotFound(LocalModelError):
    """The model's weights are missing or incomplete on local disk."""

    code = "weights_not_found"


class UnknownFamily(LocalModelError):
    """A catalog entry names a family that Framegate does not know."""

    code = "unknown_family"


class GenerationCancelled(LocalModelError):
    """The caller's cancel token fired during the denoising loop."""

    code = "cancelled"
