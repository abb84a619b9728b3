"""Tiny random-weight checkpoints of every family, built offline once per test session."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from local_models.spec import Mode

from ...fixtures.tiny_models import build_tiny, cogvideox, hunyuan, wan


@dataclass(frozen=True)
class TinyModel:
    """One tiny checkpoint, as a user would register it: an id, a family and a folder."""

    id: str
    family: str
    build: Callable[[Path], None]
    modes: tuple[Mode, ...]
    size: str
    audio: bool = False


def _family(name: str) -> Callable[[Path], None]:
    return lambda path: build_tiny(name, path)


TINY_MODELS: tuple[TinyModel, ...] = (
    TinyModel("ltx-tiny", "ltx", _family("ltx"), ("t2v", "i2v"), "64x32"),
    TinyModel("wan21-tiny", "wan", lambda p: wan.build_variant(p, "2.1-t2v"), ("t2v",), "48x32"),
    TinyModel("wan22-ti2v-tiny", "wan", lambda p: wan.build_variant(p, "2.2-ti2v"), ("t2v", "i2v"), "64x32"),
    TinyModel("wan22-i2v-tiny", "wan", lambda p: wan.build_variant(p, "2.2-i2v"), ("i2v",), "32x32"),
    TinyModel("cogvideox-tiny", "cogvideox", lambda p: cogvideox.build_variant(p, "t2v"), ("t2v",), "48x32"),
    TinyModel(
        "cogvideox-i2v-tiny", "cogvideox", lambda p: cogvideox.build_variant(p, "i2v"), ("i2v",), "32x32"
    ),
    TinyModel("hunyuan-tiny", "hunyuan", lambda p: hunyuan.build_variant(p, "t2v"), ("t2v",), "48x32"),
    TinyModel("hunyuan-i2v-tiny", "hunyuan", lambda p: hunyuan.build_variant(p, "i2v"), ("i2v",), "32x32"),
    TinyModel("mochi-tiny", "mochi", _family("mochi"), ("t2v",), "48x32"),
    TinyModel("svd-tiny", "svd", _family("svd"), ("i2v",), "40x32"),
    TinyModel("animatediff-tiny", "animatediff", _family("animatediff"), ("t2v",), "40x32"),
    TinyModel("ltx2-tiny", "ltx2", _family("ltx2"), ("t2v", "i2v"), "64x32", audio=True),
)


def build_all(root: Path) -> dict[str, Path]:
    """Build every tiny checkpoint under ``root`` (skipping those already there)."""
    paths = {}
    for model in TINY_MODELS:
        path = root / model.id
        if not (path / "model_index.json").is_file():
            model.build(path)
        paths[model.id] = path
    return paths


def catalog_toml(paths: dict[str, Path], **options: dict[str, object]) -> str:
    """``[[models]]`` entries registering the tiny folders (with optional per-model ``options``)."""
    lines = []
    for model in TINY_MODELS:
        lines += [
            "[[models]]",
            f'id = "{model.id}"',
            f'family = "{model.family}"',
            f'weights = "{paths[model.id]}"',
        ]
        if model.id in options:
            inner = ", ".join(f"{k} = {_toml(v)}" for k, v in options[model.id].items())
            lines.append(f"options = {{ {inner} }}")
        lines.append("")
    return "\n".join(lines)


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)
