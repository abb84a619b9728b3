"""Framegate's HTTP gateway: API, auth, job orchestration, CLI, settings, metrics."""

from .app import create_app
from .settings import Settings

__all__ = ["Settings", "create_app"]
