"""The engine's own errors: the request is wrong, the thing is not there, or the state forbids it.

They are :class:`~local_models.errors.FramegateError` like every package's errors (``code``, ``message``,
``param``, ``kind``) and know nothing of HTTP: the web layer maps kinds to statuses in one place.
"""

from __future__ import annotations

from local_models.errors import FramegateError

__all__ = ["Conflict", "Forbidden", "Gone", "InvalidRequest", "NotFound", "Unauthorized"]


class InvalidRequest(FramegateError):
    """The request breaks a rule (a missing prompt, a bad cursor, an idempotency key reused)."""

    kind = "invalid"
    code = "invalid_request"


class NotFound(FramegateError):
    """No such thing for this account (another account's ids are not found, never forbidden)."""

    kind = "not_found"
    code = "not_found"


class Conflict(FramegateError):
    """The thing exists but its state forbids the change (cancel a finished job, a winner twice)."""

    kind = "conflict"
    code = "conflict"


class Forbidden(FramegateError):
    """Credentials of the wrong kind for this (a content link with a bad or expired signature)."""

    kind = "forbidden"
    code = "forbidden"


class Gone(FramegateError):
    """The thing existed and was removed for good (a clip past the retention period)."""

    kind = "gone"
    code = "gone"


class Unauthorized(FramegateError):
    """No valid credentials: a missing, malformed, unknown or revoked API key, or no session."""

    kind = "unauthorized"
    code = "invalid_api_key"
