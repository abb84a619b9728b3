"""Opt-in speed features of a catalog entry, applied once when its pipeline loads.

``options`` in a ``[[models]]`` entry (all optional)::

    cache = "first_block" | "taylorseer" | "magcache" | "faster"   # step caching (diffusers hooks)
    cache_threshold = 0.05           # first-block / MagCache error threshold
    cache_interval = 5               # TaylorSeer: full compute every N steps
    cache_identifiers = ["^blocks\\.\\d+\\.attn1$"]  # TaylorSeer: modules to cache (regexes)
    mag_ratios = [1.0, 0.98, ...]     # MagCache: per-step ratios from calibrate_magcache()
    attention_backend = "native" | "flash" | "_native_cudnn" | "sage" | ...
    vae_tiling = true                # decode in overlapping tiles (large frames, less memory)
    vae_slicing = true               # decode one clip of a batch at a time
    group_offload = "block_level" | "leaf_level"   # stream weights from CPU per block (CUDA)
    compile = true                   # torch.compile the repeated transformer blocks

Step caches reuse a block's output between nearby denoising steps, trading a little fidelity for
speed. First-block cache needs at least two blocks. TaylorSeer's default identifiers match no
attention module in Wan/LTX/CogVideoX (pass ``cache_identifiers`` or it falls back to lite mode).
FasterCache fails on Wan and LTX, so it is refused there.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import LocalModelError

__all__ = ["SpeedOptions", "apply_speed_options", "calibrate_magcache", "parse_speed_options"]

CacheKind = Literal["first_block", "taylorseer", "magcache", "faster"]
_NO_FASTER = ("WanTransformer3DModel", "LTXVideoTransformer3DModel", "LTX2VideoTransformer3DModel")


class SpeedOptions(BaseModel):
    """The speed options of one model (validated when the gateway starts)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cache: CacheKind | None = None
    cache_threshold: float | None = Field(default=None, gt=0, lt=1)
    cache_interval: int = Field(default=5, ge=2)
    cache_identifiers: list[str] | None = None
    mag_ratios: list[float] | None = None
    attention_backend: str | None = None
    vae_tiling: bool = False
    vae_slicing: bool = False
    group_offload: Literal["block_level", "leaf_level"] | None = None
    compile: bool = False


def parse_speed_options(options: Mapping[str, Any]) -> SpeedOptions:
    """Validate a catalog entry's ``options``; raises ``LocalModelError(code="invalid_config")``."""
    try:
        return SpeedOptions.model_validate(dict(options))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise LocalModelError(f"model options: {where}: {first['msg']}", code="invalid_config") from None


def _denoiser(pipe: Any) -> Any:
    for name in ("transformer", "unet", "denoiser"):
        module = getattr(pipe, name, None)
        if module is not None:
            return module
    raise LocalModelError("this pipeline has no transformer or UNet to speed up", code="invalid_config")


def cache_config(opts: SpeedOptions, denoiser: Any) -> Any:
    """The diffusers cache config ``opts`` asks for (``None`` for no step cache)."""
    import diffusers

    if opts.cache is None:
        return None
    if opts.cache == "first_block":
        blocks = _block_count(denoiser)
        if blocks is not None and blocks < 2:
            raise LocalModelError(
                "first-block cache needs a model with at least 2 blocks", code="invalid_config"
            )
        return diffusers.FirstBlockCacheConfig(threshold=opts.cache_threshold or 0.05)
    if opts.cache == "taylorseer":
        if opts.cache_identifiers:
            return diffusers.TaylorSeerCacheConfig(
                cache_interval=opts.cache_interval,
                cache_identifiers=opts.cache_identifiers,
                taylor_factors_dtype=None,
            )
        return diffusers.TaylorSeerCacheConfig(
            cache_interval=opts.cache_interval, use_lite_mode=True, taylor_factors_dtype=None
        )
    if opts.cache == "magcache":
        if not opts.mag_ratios:
            raise LocalModelError(
                "MagCache needs mag_ratios: run local_models.speed.calibrate_magcache once for this model",
                code="invalid_config",
            )
        return diffusers.MagCacheConfig(
            threshold=opts.cache_threshold or 0.06,
            mag_ratios=list(opts.mag_ratios),
            num_inference_steps=len(opts.mag_ratios),
        )
    if type(denoiser).__name__ in _NO_FASTER:
        raise LocalModelError(
            f"FasterCache does not work with {type(denoiser).__name__}", code="invalid_config"
        )
    return diffusers.FasterCacheConfig(
        spatial_attention_block_skip_range=2,
        spatial_attention_timestep_skip_range=(-1, 901),
        unconditional_batch_skip_range=2,
        attention_weight_callback=lambda _: 0.5,
        is_guidance_distilled=True,
    )


def _block_count(denoiser: Any) -> int | None:
    for name in ("transformer_blocks", "blocks", "down_blocks"):
        blocks = getattr(denoiser, name, None)
        if blocks is not None:
            return len(blocks)
    return None


def apply_speed_options(pipe: Any, options: Mapping[str, Any], *, device: str) -> SpeedOptions:
    """Apply ``options`` to a freshly loaded pipeline (nothing when they are empty)."""
    opts = parse_speed_options(options)
    if opts == SpeedOptions():
        return opts
    denoiser = _denoiser(pipe)
    config = cache_config(opts, denoiser)
    if config is not None:
        denoiser.enable_cache(config)
    if opts.attention_backend:
        try:
            denoiser.set_attention_backend(opts.attention_backend)
        except (ValueError, RuntimeError, ImportError) as exc:
            raise LocalModelError(
                f"attention backend {opts.attention_backend!r} is not usable here: {exc}",
                code="invalid_config",
            ) from exc
    vae = getattr(pipe, "vae", None)
    if opts.vae_tiling and vae is not None:
        vae.enable_tiling()
    if opts.vae_slicing and vae is not None:
        vae.enable_slicing()
    if opts.group_offload:
        import torch

        denoiser.enable_group_offload(
            onload_device=torch.device(device),
            offload_device=torch.device("cpu"),
            offload_type=opts.group_offload,
            num_blocks_per_group=1 if opts.group_offload == "block_level" else None,
            use_stream=device.startswith("cuda"),
        )
    if opts.compile:
        if getattr(denoiser, "_repeated_blocks", None):
            denoiser.compile_repeated_blocks(fullgraph=False, dynamic=True)
        else:
            denoiser.compile(dynamic=True)
    return opts


_RATIOS = re.compile(r"\[([-0-9.eE, ]+)\]")


def calibrate_magcache(pipe: Any, call: Any, steps: int) -> list[float]:
    """MagCache's calibration: run ``call()`` (one generation of ``steps`` steps) with the calibrating
    hook on ``pipe``'s denoiser and return the per-step magnitude ratios for ``mag_ratios``."""
    import diffusers

    denoiser = _denoiser(pipe)
    denoiser.enable_cache(diffusers.MagCacheConfig(calibrate=True, num_inference_steps=steps))
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):  # diffusers prints the ratios when the run ends
            call()
    finally:
        denoiser.disable_cache()
    found = _RATIOS.findall(printed.getvalue())
    if not found:
        raise LocalModelError("MagCache calibration printed no ratios", code="calibration_failed")
    # With guidance the conditional pass reports first; its ratios are the ones to keep.
    return [float(v) for v in found[0].split(",") if v.strip()]
