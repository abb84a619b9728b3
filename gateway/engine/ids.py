"""Identifiers: time-ordered, unguessable, and validated before they touch a query or a path."""

from __future__ import annotations

import re
import secrets
import time

__all__ = ["is_video_id", "new_video_id"]

_VIDEO_ID = re.compile(r"^video_[0-9a-f]{28}$")


def new_video_id() -> str:
    """``video_`` + 12 hex digits of milliseconds + 16 random hex digits: sorts by creation time."""
    return f"video_{int(time.time() * 1000):012x}{secrets.token_hex(8)}"


def is_video_id(value: str) -> bool:
    return bool(_VIDEO_ID.match(value))
