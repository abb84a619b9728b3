"""Model families by name. Each family is one self-contained module."""

from __future__ import annotations

from ..errors import UnknownFamily
from .base import Family
from .shapes import ShapesFamily
from .wan import WanFamily

__all__ = ["Family", "family_names", "get_family"]

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
