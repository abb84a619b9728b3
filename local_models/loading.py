"""Loading pipelines from local disk only, materializing shipped tiny models on first use."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .catalog import CatalogEntry, weights_path
from .errors import WeightsNotFound
from .families import Family, get_family
from .spec import Mode

__all__ = [
    "LoadedPipeline",
    "default_device",
    "device_memory_bytes",
    "estimate_bytes",
    "load_entry",
    "materialize",
    "pipeline_bytes",
]


@dataclass
class LoadedPipeline:
    """A pipeline in memory, with what loading it cost."""

    model_id: str
    mode: Mode
    pipe: Any
    device: str
    load_seconds: float
    memory_bytes: int = 0
    by_mode: dict[Mode, Any] = field(default_factory=dict, repr=False)

    def for_mode(self, mode: Mode, family: Family) -> Any:
        """The pipeline for ``mode`` on these loaded weights, derived once (``from_pipe``) and kept."""
        if mode not in self.by_mode:
            self.by_mode[mode] = family.for_mode(self.pipe, mode)
        return self.by_mode[mode]


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _dtype(name: str, device: str) -> Any:
    import torch

    if name == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    return getattr(torch, name)


def materialize(entry: CatalogEntry, models_dir: Path) -> Path:
    """Return the local weights directory of ``entry``, building a shipped tiny model if needed."""
    if entry.weights.startswith("builtin:"):
        packaged = get_family(entry.family).packaged_weights(entry.weights.removeprefix("builtin:"))
        if packaged is not None:
            return packaged
    path = weights_path(entry, models_dir)
    if (path / "model_index.json").is_file():
        return path
    if not entry.weights.startswith("builtin:"):
        raise WeightsNotFound(
            f"weights for {entry.id!r} not found: {path} has no model_index.json "
            "(Framegate never downloads weights; put a diffusers folder there, or the model in the "
            "local Hugging Face cache for 'hf:<org>/<name>')",
            param="model",
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    # Build beside the target and rename, so a concurrent loader never sees half a model.
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=path.parent))
    try:
        get_family(entry.family).build_tiny(tmp, seed=0)
        try:
            os.replace(tmp, path)
        except OSError:
            if not (path / "model_index.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path


def _quiet() -> None:
    # Loading bars belong in a terminal session, not in a server's log.
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    diffusers_logging.disable_progress_bar()
    transformers_logging.disable_progress_bar()


def load_entry(
    entry: CatalogEntry, mode: Mode, models_dir: Path, device: str | None = None
) -> LoadedPipeline:
    """Load ``entry``'s pipeline for ``mode`` with ``local_files_only`` semantics."""
    _quiet()
    device = device or default_device()
    started = time.perf_counter()
    path = materialize(entry, models_dir)
    family = get_family(entry.family)
    pipe = family.load(path, mode, device=device, dtype=_dtype(entry.dtype, device))
    from .speed import apply_speed_options

    apply_speed_options(pipe, entry.options, device=device)
    return LoadedPipeline(entry.id, mode, pipe, device, time.perf_counter() - started, pipeline_bytes(pipe))


def pipeline_bytes(pipe: Any) -> int:
    """Bytes of every parameter and buffer of the pipeline's models (what residency counts)."""
    import torch

    seen: set[int] = set()
    total = 0
    for component in getattr(pipe, "components", {}).values():
        if not isinstance(component, torch.nn.Module):
            continue
        for tensor in [*component.parameters(), *component.buffers()]:
            if id(tensor) not in seen:
                seen.add(id(tensor))
                total += tensor.numel() * tensor.element_size()
    return total


def estimate_bytes(entry: CatalogEntry, models_dir: Path) -> int:
    """The size of ``entry``'s weight files on disk: a residency estimate before loading (0 if unknown)."""
    path = weights_path(entry, models_dir)
    if entry.weights.startswith("builtin:"):
        try:
            packaged = get_family(entry.family).packaged_weights(entry.weights.removeprefix("builtin:"))
        except WeightsNotFound:
            packaged = None
        path = packaged or path
    if not path.is_dir():
        return 0
    return sum(f.stat().st_size for f in path.rglob("*") if f.suffix in (".safetensors", ".bin", ".pt"))


def device_memory_bytes(device: str) -> int | None:
    """Total memory of a CUDA device (None for the CPU, where only the model count limits residency)."""
    import torch

    if not device.startswith("cuda") or not torch.cuda.is_available():
        return None
    index = torch.device(device).index or 0
    return int(torch.cuda.get_device_properties(index).total_memory)
