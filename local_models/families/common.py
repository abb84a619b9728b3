"""What the diffusers-backed families share: their rules as data, loading, mode switching, image fitting.

A family module declares two :class:`Rules` (the real checkpoints' and its tiny build's),
the pipeline class of each mode, and how a request becomes call arguments; this module does
the rest the same way for all of them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInput, WeightsNotFound
from ..spec import FrameRule, GenerationParams, Mode, ModelSpec, SizeRule

if TYPE_CHECKING:
    from PIL import Image

    from ..catalog import CatalogEntry

__all__ = [
    "MARKER",
    "DiffusersFamily",
    "Rules",
    "fit_image",
    "folder_index",
    "is_tiny",
    "read_config",
    "text_length",
]

# The router's time priors (``router.estimate``) for tiny weights, measured on a 2-core CPU: they load
# in about 2 s, not the 30 s a full-size model takes, and run at about 0.07 s per frame x step. A
# measured run replaces them after the first job.
TINY_TIMES: dict[str, object] = {"load_seconds": 2.0, "seconds_per_frame_step": 0.07}

MARKER = "framegate.json"
"""A file a tiny build writes beside ``model_index.json``: ``{"tiny": true}``."""


@dataclass(frozen=True)
class Rules:
    """A family's input rules and defaults, stated once."""

    frames: FrameRule
    sizes: SizeRule
    fps: int
    default_seconds: float
    default_steps: int
    default_guidance: float
    price_per_second: float
    quality: float
    fps_range: tuple[int, int] | None = None
    max_steps: int = 200
    negative_prompt: bool = True
    audio: bool = False
    extras: dict[str, object] = field(default_factory=dict)


def folder_index(path: Path) -> dict[str, Any]:
    """The folder's ``model_index.json``; :class:`WeightsNotFound` when it is no diffusers folder."""
    index = path / "model_index.json"
    if not index.is_file():
        raise WeightsNotFound(f"no diffusers model_index.json in {path}", param="model")
    data: dict[str, Any] = json.loads(index.read_text())
    return data


def read_config(entry: CatalogEntry, *parts: str) -> dict[str, Any] | None:
    """A JSON file of the entry's folder (e.g. ``"transformer", "config.json"``); ``None`` if absent."""
    folder = entry.folder()
    if folder is None:
        return None
    try:
        data = json.loads(folder.joinpath(*parts).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_tiny(entry: CatalogEntry) -> bool:
    """Built-in tiny models and folders that a tiny build marked as such get the tiny rules."""
    if entry.folder() is None:
        return True
    return bool((read_config(entry, MARKER) or {}).get("tiny"))


def fit_image(image: Image.Image, width: int, height: int) -> Image.Image:
    """Centre-crop ``image`` to the target aspect ratio, then resize it to exactly ``width x height``.

    Image-to-video families condition on a first frame of the video's size; cropping (not
    stretching) keeps the subject's proportions, and only the overhanging edges are lost.
    """
    from PIL import Image as PILImage

    image = image.convert("RGB")
    src_w, src_h = image.size
    target = width / height
    if src_w / src_h > target:
        new_w = max(1, round(src_h * target))
        left = (src_w - new_w) // 2
        image = image.crop((left, 0, left + new_w, src_h))
    elif src_w / src_h < target:
        new_h = max(1, round(src_w / target))
        top = (src_h - new_h) // 2
        image = image.crop((0, top, src_w, top + new_h))
    if image.size != (width, height):
        image = image.resize((width, height), PILImage.Resampling.LANCZOS)
    return image


class DiffusersFamily:
    """Shared behaviour of the families served by stock diffusers pipelines.

    Subclasses set ``name``, ``rules`` / ``tiny_rules``, ``pipelines`` (diffusers class name per
    mode, in the order a folder is tried), and implement :meth:`extra_kwargs`; a family that offers a
    built-in tiny model (Wan's ``wan-tiny``) implements :meth:`build_tiny`.
    ``shared_modes`` says whether one checkpoint serves every mode (LTX) or each checkpoint
    serves the mode of its own pipeline class (CogVideoX, HunyuanVideo).
    """

    name: str = ""
    description: str = ""
    rules: Rules
    tiny_rules: Rules
    pipelines: Mapping[Mode, str] = {}
    shared_modes: bool = True
    tiny_modes: frozenset[Mode] | None = None  # what a built-in tiny model serves, when not every mode

    # -- rules -------------------------------------------------------------------------------
    def spec(self, entry: CatalogEntry) -> ModelSpec:
        tiny = is_tiny(entry)
        rules = self.tiny_rules if tiny else self.rules
        base = ModelSpec(
            id=entry.id,
            family=self.name,
            modes=self.folder_modes(entry),
            frames=rules.frames,
            sizes=rules.sizes,
            fps=rules.fps,
            fps_range=rules.fps_range,
            default_seconds=rules.default_seconds,
            default_steps=rules.default_steps,
            default_guidance=rules.default_guidance,
            max_steps=rules.max_steps,
            price_per_second=rules.price_per_second,
            negative_prompt=rules.negative_prompt,
            audio=rules.audio,
            quality=rules.quality,
            description=self.description + (" (tiny random weights)" if tiny else ""),
            extras={**(TINY_TIMES if tiny else {}), **rules.extras},
        )
        return entry.apply_overrides(base)

    @staticmethod
    def capped_frames(spec: ModelSpec, entry: CatalogEntry, longest: object) -> ModelSpec:
        """``spec`` with its frame rule capped at a checkpoint's own limit ``longest`` (from its
        config; ``None`` when unknown), unless the catalog entry sets ``max_frames`` itself."""
        if longest is None or entry.max_frames is not None:
            return spec
        rule = spec.frames
        return spec.with_overrides(
            frames=FrameRule(rule.multiple, rule.offset, rule.min_frames, int(str(longest)))
        )

    def folder_modes(self, entry: CatalogEntry) -> frozenset[Mode]:
        """The modes the entry's checkpoint serves (read from its folder when it is on disk)."""
        if self.shared_modes:
            return frozenset(self.pipelines)
        if entry.folder() is None:
            return self.tiny_modes or frozenset(self.pipelines)
        index = read_config(entry, "model_index.json")
        return frozenset(self.pipelines) if index is None else self.modes_of(index)

    def modes_of(self, index: Mapping[str, Any]) -> frozenset[Mode]:
        """Modes of a folder with this ``model_index.json``."""
        if self.shared_modes:
            return frozenset(self.pipelines)
        name = str(index.get("_class_name", ""))
        modes = frozenset(mode for mode, cls in self.pipelines.items() if cls == name)
        return modes or frozenset(self.pipelines)

    # -- loading -----------------------------------------------------------------------------
    def load(self, path: Path, mode: Mode, *, device: str, dtype: Any) -> Any:
        import diffusers

        index = folder_index(path)
        saved = str(index.get("_class_name", ""))
        cls_name = saved if saved in self.pipelines.values() else self.pipelines[mode]
        cls = getattr(diffusers, cls_name)
        try:
            pipe = cls.from_pretrained(path, local_files_only=True, dtype=dtype)
        except (OSError, ValueError, KeyError) as exc:
            raise WeightsNotFound(
                f"{path} is not a complete {cls_name} checkpoint: {str(exc)[:300]}", param="model"
            ) from exc
        pipe.set_progress_bar_config(disable=True)
        self.for_mode(pipe, mode)  # refuse a mode this checkpoint cannot serve before it is kept
        return pipe.to(device)

    def for_mode(self, pipe: Any, mode: Mode) -> Any:
        """The pipeline that runs ``mode``, sharing ``pipe``'s loaded components (no second copy)."""
        import diffusers

        wanted = self.pipelines.get(mode)
        if wanted is None:
            raise InvalidInput(
                f"the {self.name} family does not support {mode}", code="unsupported_mode", param="model"
            )
        if type(pipe).__name__ == wanted:
            return pipe
        if not self.shared_modes:
            raise InvalidInput(
                f"this {self.name} checkpoint ({type(pipe).__name__}) does not support {mode}",
                code="unsupported_mode",
                param="input_reference" if mode == "i2v" else "model",
            )
        derived = getattr(diffusers, wanted).from_pipe(pipe)
        derived.set_progress_bar_config(disable=True)
        return derived

    # -- running -----------------------------------------------------------------------------
    def call_kwargs(
        self, pipe: Any, params: GenerationParams, prompt: str, image: Image.Image | None
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "prompt": prompt,
            "height": params.height,
            "width": params.width,
            "num_frames": params.frames,
            "num_inference_steps": params.steps,
            "guidance_scale": params.guidance,
        }
        if self.rules.negative_prompt:
            kwargs["negative_prompt"] = params.negative_prompt
        if params.mode == "i2v":
            if image is None:
                raise InvalidInput("image-to-video needs an input image", code="missing_image", param="image")
            kwargs["image"] = fit_image(image, params.width, params.height)
        kwargs.update(self.extra_kwargs(pipe, params))
        return kwargs

    def extra_kwargs(self, pipe: Any, params: GenerationParams) -> dict[str, Any]:
        """Family-specific call arguments (read checkpoint-dependent values from ``pipe``)."""
        return {}

    def progress_total(self, params: GenerationParams) -> int:
        return params.steps

    def sample_rate(self, pipe: Any) -> int | None:
        return None

    def run_notes(self, params: GenerationParams) -> dict[str, Any]:
        return {}

    def packaged_weights(self, name: str) -> Path | None:
        return None  # tiny builds are made offline from a config on first use

    def build_tiny(self, path: Path, *, seed: int = 0) -> None:
        """Only families with a built-in tiny model build one; the others' weights are folders."""
        raise WeightsNotFound(
            f"the {self.name} family has no built-in model to build; set the catalog entry's weights "
            "to a diffusers folder or 'hf:<org>/<name>'",
            param="model",
        )

    @staticmethod
    def save_tiny(pipe: Any, path: Path) -> None:
        """Save a tiny build and mark it, so the catalog gives it the tiny rules."""
        pipe.save_pretrained(path)
        (path / MARKER).write_text(json.dumps({"tiny": True}))


def text_length(tokenizer: Any, cap: int) -> int:
    """The checkpoint's own text length (its tokenizer's ``model_max_length``), at most ``cap``."""
    value = getattr(tokenizer, "model_max_length", None)
    if not isinstance(value, int) or value <= 0 or value > 1_000_000:
        return cap
    return min(cap, value)
