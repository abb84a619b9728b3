"""Routing errors."""

from __future__ import annotations


class RoutingError(Exception):
    code = "routing_error"

    def __init__(self, message: str, *, code: str | None = None, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.param = param


class ModelNotFound(RoutingError):
    """The request names a model no backend serves."""

    code = "model_not_found"


class NoCandidate(RoutingError):
    """No model can honour the request (``model`` omitted or ``auto``)."""

    code = "no_model_available"
