"""Open video diffusion models served in-process: catalog, families, loading, residency, runs, video files.

Knows nothing of HTTP, credits or accounts. ``local_models.spec`` (the vocabulary every package shares:
what a generation needs, what a model accepts) and ``local_models.errors`` are light and imported here;
the runtime (torch, diffusers, numpy, PIL, ffmpeg) loads only when one of its names is first used, so
``router`` and ``billing`` can use the vocabulary without pulling the runtime in.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import (
    FramegateError,
    GenerationCancelled,
    InvalidInput,
    LocalModelError,
    UnknownFamily,
    WeightsNotFound,
)
from .spec import (
    MAX_SEED,
    MODES,
    FrameRule,
    GenerationParams,
    Mode,
    ModelSpec,
    SizeRule,
    VideoRequest,
    parse_size,
    resolve,
)

if TYPE_CHECKING:
    from .catalog import BUILTIN_ENTRIES, Catalog, CatalogEntry
    from .families import Family, detect_family, get_family
    from .loading import LoadedPipeline, default_device, load_entry, materialize
    from .residency import PipelinePool
    from .runner import CancelToken, ProgressFn, RunOutput, run_pipeline, run_pipeline_batch

_LAZY = {
    "BUILTIN_ENTRIES": "catalog",
    "Catalog": "catalog",
    "CatalogEntry": "catalog",
    "Family": "families",
    "detect_family": "families",
    "get_family": "families",
    "LoadedPipeline": "loading",
    "default_device": "loading",
    "load_entry": "loading",
    "materialize": "loading",
    "PipelinePool": "residency",
    "CancelToken": "runner",
    "ProgressFn": "runner",
    "RunOutput": "runner",
    "run_pipeline": "runner",
    "run_pipeline_batch": "runner",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'local_models' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)


__all__ = [
    "BUILTIN_ENTRIES",
    "MAX_SEED",
    "MODES",
    "CancelToken",
    "Catalog",
    "CatalogEntry",
    "Family",
    "FrameRule",
    "FramegateError",
    "GenerationCancelled",
    "GenerationParams",
    "InvalidInput",
    "LoadedPipeline",
    "LocalModelError",
    "Mode",
    "ModelSpec",
    "PipelinePool",
    "ProgressFn",
    "RunOutput",
    "SizeRule",
    "UnknownFamily",
    "VideoRequest",
    "WeightsNotFound",
    "default_device",
    "detect_family",
    "get_family",
    "load_entry",
    "materialize",
    "parse_size",
    "resolve",
    "run_pipeline",
    "run_pipeline_batch",
]
