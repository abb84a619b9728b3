"""Framegate's HTTP gateway: API, auth, job orchestration, CLI, settings, metrics."""

from gateway.app import create_app
from gateway.settings import Settings

__all__ = ["Settings", "create_app"]
