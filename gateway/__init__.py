"""Framegate's gateway: the web (API, dashboard, CLI) over the engine (``gateway.engine``).

``create_app`` and ``Settings`` load on first use, so importing the engine alone (a worker, a script)
does not pull in the web layer.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.app import create_app
    from gateway.settings import Settings

__all__ = ["Settings", "create_app"]

_LAZY = {"create_app": "gateway.app", "Settings": "gateway.settings"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'gateway' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
