"""Errors at the adapter boundary. Every backend's own exceptions are translated into these.

``TransientError`` may succeed on retry or on another backend; ``PermanentError`` never will
(bad input, unsupported, content refused) and must fail the job at once.
"""

from __future__ import annotations

from typing import ClassVar

from local_models.errors import FramegateError, Kind


class AdapterError(FramegateError):
    """Base of adapter errors; ``code`` is machine-readable and ends up on the failed job."""

    kind: ClassVar[Kind] = "unavailable"
    code = "backend_error"
    transient = False


class TransientError(AdapterError):
    """Timeouts, connection resets, 5xx, 429, out of device memory."""

    code = "backend_unavailable"
    transient = True


class JobFailed(TransientError):
    """The backend is healthy but this job failed on it (a provider ran it and reported a failure):
    fall back to another candidate, without retrying it here (each try may be billed) and without
    counting it against the backend's health (one bad job must not open the circuit for everyone)."""

    code = "provider_failed"


class PermanentError(AdapterError):
    """The request can never succeed on this backend."""

    code = "generation_failed"


class Cancelled(AdapterError):
    """The job's cancel token fired; not a failure of the backend."""

    code = "cancelled"
