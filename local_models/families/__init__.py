"""Model families by name. Each family is one self-contained module."""

from __future__ import annotations

from ..errors import UnknownFamily
from .base import Family
from .shapes import ShapesFamily
from .wan import WanFamily

__all__ = ["Family", "detect_family", "family_names", "get_family"]

# diffusers pipeline class (model_index.json "_class_name") -> family
_PIPELINES = {"WanPipeline": "wan", "ShapesPipeline": "shapes"}

_FAMILIES: dict[str, Family] = {family.name: family for family in (ShapesFamily(), WanFamily())}


def get_family(name: str) -> Family:
    """The family called ``name``; raises :class:`UnknownFamily` with the known names."""
    try:
        return _FAMILIES[name]
    except KeyError:
        known = ", ".join(sorted(_FAMILIES))
        raise UnknownFamily(f"unknown model family {name!r} (known: {known})", param="family") from None


def family_names() -> list[str]:
    return sorted(_FAMILIES)


def detect_family(model_index: dict[str, object]) -> str:
    """The family of a diffusers folder, from its ``model_index.json``; raises :class:`UnknownFamily`."""
    name = str(model_index.get("_class_name", ""))
    try:
        return _PIPELINES[name]
    except KeyError:
        known = ", ".join(f"{p} ({f})" for p, f in sorted(_PIPELINES.items()))
        raise UnknownFamily(
            f"no Framegate family serves {name or 'this folder'!r} yet (supported: {known})", param="family"
        ) from None
