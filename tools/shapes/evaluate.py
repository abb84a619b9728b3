"""Prompt adherence of a shapes model on fresh prompts (new seeds, new phrasings), and contact sheets.

python -m tools.shapes.evaluate --model shapes-hq [--n 200] [--size 128] [--sheet sheet.png]

With ``--size`` the clips are checked at that output size (through the model's learned upsampler),
and the report adds readability: IoU with the ideal shape asked for, before (bicubic) and after.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw

from local_models.shapes.adherence import check_clip
from local_models.shapes.presets import PRESETS
from local_models.shapes.upsampler import resize_frames
from local_models.shapes.vocab import write_prompt

from . import WEIGHTS
from .data import sample_attributes
from .readability import THRESHOLD, readability

__all__ = ["contact_sheet", "evaluate"]


def _to_uint8(frames: torch.Tensor) -> np.ndarray:
    return np.asarray((frames.permute(0, 1, 3, 4, 2).numpy() * 255).round().astype(np.uint8))


def _upsampled(native: np.ndarray, size: int, upsampler: Any) -> np.ndarray:
    """(B, T, 32, 32, 3) floats -> (B, T, size, size, 3) uint8, as the pipeline resizes its frames."""
    flat = torch.from_numpy(np.ascontiguousarray(native)).permute(0, 1, 4, 2, 3).flatten(0, 1)
    with torch.no_grad():
        big = resize_frames(flat, size, size, upsampler)
    return _to_uint8(big.unflatten(0, native.shape[:2]))


def evaluate(
    pipe: Any,
    *,
    n: int,
    seed: int,
    steps: int,
    guidance: float,
    batch: int = 16,
    keep: int = 0,
    size: int | None = None,
) -> dict[str, Any]:
    """Generate ``n`` clips for random prompts and check colour, shape and direction (at ``size``, and
    readability before and after the upsampler, when ``size`` is given)."""
    rng = random.Random(seed)
    attrs = [sample_attributes(rng) for _ in range(n)]
    prompts = [write_prompt(a, rng) for a in attrs]
    results: list[Any] = []
    ious: dict[str, list[tuple[float, bool]]] = {"before": [], "after": []}
    bicubic: list[Any] = []  # adherence of the same frames upsampled bicubically
    kept: list[tuple[str, np.ndarray, Any]] = []
    seconds = 0.0  # rendering (and upsampling) only, not the checks
    for i in range(0, n, batch):
        started = time.perf_counter()
        out = np.asarray(
            pipe(
                prompts[i : i + batch],
                num_inference_steps=steps,
                guidance_scale=guidance,
                generator=torch.Generator().manual_seed(seed + i),
            ).frames
        )
        clips = (out * 255).round().astype(np.uint8)
        if size is not None:
            clips = _upsampled(out, size, pipe.upsampler)
            seconds += time.perf_counter() - started
            before = _upsampled(out, size, None)
            bicubic += [check_clip(c, attrs[i + j]) for j, c in enumerate(before)]
            ious["before"] += [readability(c, attrs[i + j]) for j, c in enumerate(before)]
            ious["after"] += [readability(c, attrs[i + j]) for j, c in enumerate(clips)]
        else:
            seconds += time.perf_counter() - started
        for j, clip in enumerate(clips):
            results.append(check_clip(clip, attrs[i + j]))
            if len(kept) < keep:
                kept.append((prompts[i + j], clip, results[-1]))

    def rate(key: str) -> float:
        vals = [getattr(r, key) for r in results if getattr(r, key) is not None]
        return round(float(np.mean(vals)), 4) if vals else float("nan")

    by_motion: dict[str, list[bool]] = {}
    for a, r in zip(attrs, results, strict=True):
        by_motion.setdefault(a.motion or "?", []).append(bool(r.motion_ok))
    summary = {
        "n": n,
        "pass": round(float(np.mean([r.passed for r in results])), 4),
        "colour": rate("colour_ok"),
        "shape": rate("shape_ok"),
        "motion": rate("motion_ok"),
    }
    checks = {"before": bicubic, "after": results}
    readable = {
        key: {
            "mean_iou": round(float(np.mean([iou for iou, _ in v])), 4),
            "share_readable": round(float(np.mean([ok for _, ok in v])), 4),
            "adherence": round(float(np.mean([r.passed for r in checks[key]])), 4),
            "shape_ok": round(float(np.mean([bool(r.shape_ok) for r in checks[key]])), 4),
        }
        for key, v in ious.items()
        if v
    }
    return {
        "summary": summary,
        "readability": {"size": size, "threshold": THRESHOLD, **readable} if readable else None,
        "seconds_per_clip": seconds / n,
        "motion_by_direction": {k: round(float(np.mean(v)), 3) for k, v in sorted(by_motion.items())},
        "kept": kept,
    }


def contact_sheet(kept: list[tuple[str, np.ndarray, Any]], path: Path, scale: int | None = None) -> None:
    """One row per clip: its frames, and the prompt with PASS/FAIL. Frames are shown pixel for pixel
    (``scale`` 1) when they are at least 96 px, else enlarged 3x (nearest neighbour)."""
    frames = kept[0][1].shape[0]
    scale = scale or (1 if kept[0][1].shape[1] >= 96 else 3)
    tile = kept[0][1].shape[1] * scale
    label_w = 360
    sheet = Image.new("RGB", (label_w + frames * tile, len(kept) * tile), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for row, (prompt, clip, result) in enumerate(kept):
        for t in range(frames):
            img = Image.fromarray(clip[t]).resize((tile, tile), Image.Resampling.NEAREST)
            sheet.paste(img, (label_w + t * tile, row * tile))
        verdict = "PASS" if result.passed else f"FAIL {result.colour}/{result.shape}/{result.motion}"
        draw.text((4, row * tile + 4), prompt[:58], fill=(0, 0, 0))
        draw.text((4, row * tile + 20), verdict, fill=(0, 120, 0) if result.passed else (200, 0, 0))
    sheet.save(path, optimize=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", choices=sorted(PRESETS), required=True)
    parser.add_argument("--weights", type=Path, default=None)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--seed", type=int, default=123_456)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--guidance", type=float, default=None)
    parser.add_argument("--size", type=int, default=None, help="check at this output size (e.g. 128)")
    parser.add_argument("--sheet", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    from local_models.shapes.pipeline import ShapesPipeline

    if args.threads:
        torch.set_num_threads(args.threads)
    preset = PRESETS[args.model]
    weights = args.weights or WEIGHTS / args.model
    pipe = ShapesPipeline.from_pretrained(weights, dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    report = evaluate(
        pipe,
        n=args.n,
        seed=args.seed,
        steps=args.steps or preset.steps,
        guidance=args.guidance if args.guidance is not None else preset.guidance,
        keep=24 if args.sheet else 0,
        size=args.size,
    )
    if args.sheet:
        contact_sheet(report["kept"], args.sheet)
    report.pop("kept")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
