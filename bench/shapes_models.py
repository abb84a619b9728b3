"""Speed and prompt adherence of the shipped shapes models, at their defaults and at other step counts.

    python bench/shapes_models.py [--n 96] [--threads 2]

Seconds per clip are measured one clip at a time (batch 1, as the gateway runs them) at 32x32,
8 frames; adherence is colour + shape + direction on fresh prompts (bench seeds, not training's).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tools/ is not installed

from local_models.shapes.pipeline import ShapesPipeline
from local_models.shapes.presets import PRESETS
from local_models.shapes.vocab import write_prompt
from tools.shapes.data import sample_attributes
from tools.shapes.evaluate import evaluate


def seconds_per_clip(pipe: ShapesPipeline, steps: int, guidance: float, runs: int = 8) -> float:
    rng = random.Random(99)
    times = []
    for i in range(runs + 1):
        prompt = write_prompt(sample_attributes(rng), rng)
        started = time.perf_counter()
        pipe(
            prompt,
            num_inference_steps=steps,
            guidance_scale=guidance,
            generator=torch.Generator().manual_seed(i),
        )
        if i:  # the first call warms up
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=96, help="prompts per adherence measurement")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from local_models.families.shapes import PACKAGED

    rows = []
    for name, preset in PRESETS.items():
        pipe = ShapesPipeline.from_pretrained(PACKAGED / name, dtype=torch.float32)
        pipe.set_progress_bar_config(disable=True)
        for steps in sorted({4, 8, preset.steps, 2 * preset.steps}):
            report = evaluate(pipe, n=args.n, seed=777, steps=steps, guidance=preset.guidance)
            s = report["summary"]
            secs = seconds_per_clip(pipe, steps, preset.guidance)
            rows.append((name, steps, "default" if steps == preset.steps else "", secs, s))
    print(f"\nShapes models ({torch.get_num_threads()} threads, batch 1, 32x32x8, guidance 3, n={args.n})\n")
    print("| model        | steps |         | s / clip | pass  | colour | shape | direction |")
    print("|--------------|-------|---------|----------|-------|--------|-------|-----------|")
    for name, steps, tag, secs, s in rows:
        print(
            f"| {name:<12} | {steps:>5} | {tag:<7} | {secs:8.3f} | {s['pass']:.3f} | {s['colour']:.3f}  | "
            f"{s['shape']:.3f} | {s['motion']:.3f}     |"
        )


if __name__ == "__main__":
    main()
