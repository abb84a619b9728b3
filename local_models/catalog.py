"""The model catalog: built-in entries plus the user's TOML config, one entry per model id."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .errors import LocalModelError
from .spec import MODES, FrameRule, Mode, ModelSpec, SizeRule, parse_size

__all__ = ["BUILTIN_ENTRIES", "Catalog", "CatalogEntry"]

_ID_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-._")


class CatalogEntry(BaseModel):
    """One model as the catalog knows it: where its weights are and how it deviates from its family."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    family: str
    weights: str = Field(
        description="a local directory, 'hf:<org>/<name>' in the local Hugging Face cache, "
        "or 'builtin:<name>' for shipped tiny models"
    )
    backend: str = "local"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    description: str | None = None
    # Optional overrides of the family's defaults.
    modes: list[Mode] | None = None
    sizes: list[str] | None = None
    default_size: str | None = None
    fps: int | None = None
    default_seconds: float | None = None
    max_frames: int | None = None
    default_steps: int | None = None
    default_guidance: float | None = None
    price_per_second: float | None = Field(default=None, ge=0)
    quality: float | None = Field(default=None, ge=0, le=1)
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        if not value or len(value) > 64 or not set(value) <= _ID_CHARS:
            raise ValueError("model ids use lowercase letters, digits, '-', '.', '_' (at most 64)")
        return value

    @field_validator("modes")
    @classmethod
    def _check_modes(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and (not value or not set(value) <= set(MODES)):
            raise ValueError(f"modes must be a non-empty subset of {list(MODES)}")
        return value

    def folder(self) -> Path | None:
        """The weights folder on this machine (``None`` for built-ins, which are built or shipped)."""
        if self.weights.startswith("builtin:"):
            return None
        if self.weights.startswith("hf:"):
            return hub_cache_path(self.weights.removeprefix("hf:"))
        return Path(self.weights).expanduser()

    def apply_overrides(self, base: ModelSpec) -> ModelSpec:
        """The family's spec with this entry's overrides applied."""
        changes: dict[str, object] = {}
        if self.modes is not None:
            changes["modes"] = frozenset(self.modes)
        if self.sizes is not None or self.default_size is not None:
            allowed = tuple(parse_size(s) for s in self.sizes) if self.sizes else base.sizes.allowed
            default = (
                parse_size(self.default_size)
                if self.default_size
                else (allowed[0] if allowed else base.sizes.default)
            )
            changes["sizes"] = SizeRule(
                default=default,
                multiple=base.sizes.multiple,
                min_side=base.sizes.min_side,
                max_side=base.sizes.max_side,
                allowed=allowed,
            )
        if self.max_frames is not None:
            rule = base.frames
            changes["frames"] = FrameRule(rule.multiple, rule.offset, rule.min_frames, self.max_frames)
        for name in (
            "fps",
            "default_seconds",
            "default_steps",
            "default_guidance",
            "price_per_second",
            "quality",
        ):
            value = getattr(self, name)
            if value is not None:
                changes[name] = value
        if self.description:
            changes["description"] = self.description
        return base.with_overrides(**changes) if changes else base


BUILTIN_ENTRIES: tuple[CatalogEntry, ...] = (
    CatalogEntry(id="shapes-fast", family="shapes", weights="builtin:shapes-fast"),
    CatalogEntry(id="shapes-hq", family="shapes", weights="builtin:shapes-hq"),
    CatalogEntry(id="wan-tiny", family="wan", weights="builtin:wan-tiny"),
)


class Catalog:
    """Entries by id: the built-ins, then config entries (which replace a built-in of the same id)."""

    def __init__(self, entries: Iterable[CatalogEntry]) -> None:
        self._entries: dict[str, CatalogEntry] = {}
        for entry in entries:
            self._entries[entry.id] = entry

    @classmethod
    def from_config(cls, models: Iterable[Mapping[str, Any]] = (), *, builtins: bool = True) -> Catalog:
        entries: list[CatalogEntry] = [e for e in BUILTIN_ENTRIES if _available(e)] if builtins else []
        for raw in models:
            try:
                entries.append(CatalogEntry.model_validate(dict(raw)))
            except ValueError as exc:
                raise LocalModelError(
                    f"invalid model entry {raw.get('id', '?')!r}: {exc}", code="invalid_config"
                ) from exc
        return cls(entries)

    def __iter__(self) -> Iterator[CatalogEntry]:
        return iter(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, model_id: str) -> CatalogEntry | None:
        return self._entries.get(model_id)

    def for_backend(self, backend: str) -> list[CatalogEntry]:
        return [entry for entry in self._entries.values() if entry.backend == backend]


def _available(entry: CatalogEntry) -> bool:
    """A built-in whose family ships its weights is offered only if they are present in this install."""
    from .errors import WeightsNotFound
    from .families import get_family

    try:
        get_family(entry.family).packaged_weights(entry.weights.removeprefix("builtin:"))
    except WeightsNotFound:
        return False
    return True


def weights_path(entry: CatalogEntry, models_dir: Path) -> Path:
    """Where ``entry``'s weights live on disk (built-ins are materialized under ``models_dir``)."""
    folder = entry.folder()
    if folder is None:
        return models_dir / "builtin" / entry.weights.removeprefix("builtin:")
    return folder


def hub_cache_path(repo_id: str) -> Path:
    """The newest snapshot of ``repo_id`` in the local Hugging Face cache, looked up offline.

    When the repository is not cached the path returned does not exist, and loading says so.
    """
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(repo_id, local_files_only=True))
    except (LocalEntryNotFoundError, ValueError, OSError):
        return Path(f"<{repo_id} is not in the local Hugging Face cache>")
