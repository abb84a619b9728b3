"""Open video diffusion models served in-process: catalog, families, loading, residency, runs, video files.

Knows nothing of HTTP, credits or accounts.
"""

from .catalog import BUILTIN_ENTRIES, Catalog, CatalogEntry
from .errors import (
    GenerationCancelled,
    InvalidInput,
    LocalModelError,
    UnknownFamily,
    WeightsNotFound,
)
from .families import Family, detect_family, family_names, get_family
from .loading import LoadedPipeline, default_device, load_entry, materialize
from .residency import PipelinePool
from .runner import CancelToken, ProgressFn, RunOutput, run_pipeline
from .spec import MAX_SEED, MODES, FrameRule, GenerationParams, Mode, ModelSpec, SizeRule, parse_size, resolve

__all__ = [
    "BUILTIN_ENTRIES",
    "MAX_SEED",
    "MODES",
    "CancelToken",
    "Catalog",
    "CatalogEntry",
    "Family",
    "FrameRule",
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
    "WeightsNotFound",
    "default_device",
    "detect_family",
    "family_names",
    "get_family",
    "load_entry",
    "materialize",
    "parse_size",
    "resolve",
    "run_pipeline",
]
