"""Do the shipped shapes models' outputs read as the shapes asked for? Before and after the upsampler.

    python bench/shapes_readability.py [--n 200] [--size 128] [--threads 2]

For fresh prompts (bench seed, not a training one) each model renders its native 32x32 frames once;
they are enlarged to ``--size`` both ways, bicubic (before) and through the learned upsampler (after),
and scored by ``tools.shapes.readability``: per clip, the mean over frames of the IoU between the
subject and the ideal shape asked for, fitted to its centroid and area; a clip reads as its shape at
IoU >= the threshold with no other shape fitting better. Prints one table, with the adherence
checks (the shape class alone, and colour + shape + direction) on the same frames.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tools/ is not installed

from local_models.shapes.pipeline import ShapesPipeline
from local_models.shapes.presets import PRESETS
from tools.shapes.evaluate import evaluate
from tools.shapes.readability import THRESHOLD

SEED = 424_242  # the model cards' evaluation seed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=200, help="prompts per model")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from local_models.families.shapes import PACKAGED

    print(
        f"| model | prompts | upsampling | mean IoU | reads as its shape (>= {THRESHOLD}) | "
        "shape check | all three checks |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, preset in PRESETS.items():
        pipe = ShapesPipeline.from_pretrained(PACKAGED / name, dtype=torch.float32)
        pipe.set_progress_bar_config(disable=True)
        report = evaluate(
            pipe, n=args.n, seed=SEED, steps=preset.steps, guidance=preset.guidance, size=args.size
        )
        for key, label in (("before", "bicubic"), ("after", "learned")):
            r = report["readability"][key]
            print(
                f"| {name} | {args.n} | {label} | {r['mean_iou']:.3f} | {r['share_readable']:.1%} | "
                f"{r['shape_ok']:.1%} | {r['adherence']:.1%} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
