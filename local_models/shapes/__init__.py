"""Framegate's own tiny video models, trained on procedurally generated moving shapes.

What serving them and QC's adherence check need; training, data generation, evaluation and model cards
are developer tools in ``tools/shapes/`` (not installed). Only the pure-Python parts load eagerly; the
torch models load on first use.
"""

from __future__ import annotations

from typing import Any

from .vocab import Attributes, parse_prompt, write_prompt

__all__ = [
    "Attributes",
    "ShapesPipeline",
    "ShapesTextEncoder",
    "ShapesUNet",
    "parse_prompt",
    "write_prompt",
]

_LAZY = {
    "ShapesPipeline": ".pipeline",
    "ShapesTextEncoder": ".text",
    "ShapesUNet": ".unet",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(name)
