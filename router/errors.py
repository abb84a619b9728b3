"""Routing errors."""

from __future__ import annotations

from typing import ClassVar

from local_models.errors import FramegateError, Kind


class RoutingError(FramegateError):
    """Base of routing errors."""

    kind: ClassVar[Kind] = "invalid"
    code = "routing_error"


class ModelNotFound(RoutingError):
    """The request names a model no backend serves."""

    code = "model_not_found"


class NoCandidate(RoutingError):
    """No model can honour the request (``model`` omitted or ``auto``)."""

    code = "no_model_available"


class ModelNotAllowed(RoutingError):
    """The caller's key may not use the model it names (the operator's allow-list)."""

    kind: ClassVar[Kind] = "forbidden"
    code = "model_not_allowed"


class BackendsUnavailable(NoCandidate):
    """Only backends that are failing right now (circuit open) could serve the request: try later."""

    kind: ClassVar[Kind] = "unavailable"
    code = "backends_unavailable"
