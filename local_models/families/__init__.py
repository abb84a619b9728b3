"""Model families by name. Each family is one self-contained module."""

from __future__ import annotations

from ..errors import UnknownFamily
from .animatediff import AnimateDiffFamily
from .base import Family
from .cogvideox import CogVideoXFamily
from .hunyuan import HunyuanVideoFamily
from .ltx import LTXFamily
from .ltx2 import LTX2Family
from .mochi import MochiFamily
from .shapes import ShapesFamily
from .svd import SVDFamily
from .wan import WanFamily

__all__ = ["Family", "detect_family", "get_family"]

# diffusers pipeline class (model_index.json "_class_name") -> family
_FAMILY_LIST: tuple[Family, ...] = (
    AnimateDiffFamily(),
    CogVideoXFamily(),
    HunyuanVideoFamily(),
    LTXFamily(),
    LTX2Family(),
    MochiFamily(),
    ShapesFamily(),
    SVDFamily(),
    WanFamily(),
)
_FAMILIES: dict[str, Family] = {family.name: family for family in _FAMILY_LIST}
_PIPELINES: dict[str, str] = {"ShapesPipeline": "shapes"}
for _family in _FAMILY_LIST:
    for _cls in getattr(_family, "pipelines", {}).values():
        _PIPELINES[_cls] = _family.name


def get_family(name: str) -> Family:
    """The family called ``name``; raises :class:`UnknownFamily` with the known names."""
    try:
        return _FAMILIES[name]
    except KeyError:
        known = ", ".join(sorted(_FAMILIES))
        raise UnknownFamily(f"unknown model family {name!r} (known: {known})", param="family") from None


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
