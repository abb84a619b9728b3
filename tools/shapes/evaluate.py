"""Prompt adherence of a shapes model on fresh prompts (new seeds, new phrasings), and contact sheets.

python -m tools.shapes.evaluate --model shapes-hq [--n 200] [--sheet sheet.png]
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
from local_models.shapes.vocab import write_prompt

from . import WEIGHTS
from .data import sample_attributes

__all__ = ["contact_sheet", "evaluate"]


def evaluate(
    pipe: Any, *, n: int, seed: int, steps: int, guidance: float, batch: int = 16, keep: int = 0
) -> dict[str, Any]:
    """Generate ``n`` clips for random prompts and check colour, shape and direction."""
    rng = random.Random(seed)
    attrs = [sample_attributes(rng) for _ in range(n)]
    prompts = [write_prompt(a, rng) for a in attrs]
    results: list[Any] = []
    kept: list[tuple[str, np.ndarray, Any]] = []
    started = time.perf_counter()
    for i in range(0, n, batch):
        out = pipe(
            prompts[i : i + batch],
            num_inference_steps=steps,
            guidance_scale=guidance,
            generator=torch.Generator().manual_seed(seed + i),
        ).frames
        clips = (np.asarray(out) * 255).round().astype(np.uint8)
        for j, clip in enumerate(clips):
            results.append(check_clip(clip, attrs[i + j]))
            if len(kept) < keep:
                kept.append((prompts[i + j], clip, results[-1]))
    seconds = time.perf_counter() - started

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
    return {
        "summary": summary,
        "seconds_per_clip": seconds / n,
        "motion_by_direction": {k: round(float(np.mean(v)), 3) for k, v in sorted(by_motion.items())},
        "kept": kept,
    }


def contact_sheet(kept: list[tuple[str, np.ndarray, Any]], path: Path, scale: int = 3) -> None:
    """One row per clip: its frames, and the prompt with PASS/FAIL."""
    frames = kept[0][1].shape[0]
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
    sheet.save(path)


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
    )
    if args.sheet:
        contact_sheet(report["kept"], args.sheet)
    report.pop("kept")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
