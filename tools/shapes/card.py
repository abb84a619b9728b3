"""Write a shipped shapes model's card: how it was trained and how well it follows prompts.

    python -m tools.shapes.card --model shapes-hq [--n 200]

Evaluates on fresh prompts (seeds and phrasings the training never drew) at the default output size,
128x128 (through the model's learned upsampler), saves a contact sheet of that output under
``docs/shapes/`` and writes ``README.md`` next to the weights.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch

from local_models.shapes.presets import PRESETS

from . import WEIGHTS
from .evaluate import contact_sheet, evaluate

DOCS = Path(__file__).resolve().parents[2] / "docs" / "shapes"
EVAL_SEED = 424_242  # not a training seed: training draws from Random(0)
SIZE = 128  # the gateway's default output size
SHEET_ROWS = 16  # prompts on the contact sheet (a 128x128 row of 8 frames is ~90 KB of PNG)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", choices=sorted(PRESETS), required=True)
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    from local_models.shapes.pipeline import ShapesPipeline

    preset = PRESETS[args.model]
    path = WEIGHTS / args.model
    pipe = ShapesPipeline.from_pretrained(path, dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    report = evaluate(
        pipe,
        n=args.n,
        seed=EVAL_SEED,
        steps=preset.steps,
        guidance=preset.guidance,
        keep=SHEET_ROWS,
        size=SIZE,
    )
    DOCS.mkdir(parents=True, exist_ok=True)
    sheet = DOCS / f"{args.model}-contact-sheet.png"
    contact_sheet(report.pop("kept"), sheet)
    training = json.loads((path / "training.json").read_text())
    denoiser = pipe.denoiser
    params = sum(p.numel() for p in denoiser.parameters()) + sum(
        p.numel() for p in pipe.text_encoder.parameters()
    )
    size_mb = sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6
    s = report["summary"]
    t = training
    curriculum = (
        f"fixed paths for {t['curriculum']['hold']} steps, random by "
        f"{t['curriculum']['hold'] + t['curriculum']['ramp']}"
    )
    trained = (
        f"{t['steps']} steps, batch {t['batch']}, AdamW lr {t['lr']}, seed {t['seed']}, "
        f"{t['threads']} CPU thread(s), {t['train_seconds'] / 60:.0f} min; curriculum: {curriculum}"
    )
    sampling = (
        f"flow matching, `FlowMatchEulerDiscreteScheduler`, {preset.steps} steps, guidance {preset.guidance}"
    )
    scores = (
        f"| {s['pass']:.1%} | {s['colour']:.1%} | {s['shape']:.1%} | {s['motion']:.1%} | "
        f"{report['seconds_per_clip']:.3f} |"
    )
    by_motion = ", ".join(f"{k} {v:.0%}" for k, v in report["motion_by_direction"].items())
    history = "; ".join(f"step {e['step']}: {e['pass']:.0%}" for e in t["evals"])
    card = f"""# {args.model}

{preset.description}. Framegate's own model, trained from scratch on procedurally generated clips of one
shape moving on a plain background; it ships with the package and runs on a CPU.

| | |
|---|---|
| architecture | {type(denoiser).__name__} (`{json.dumps(dict(preset.config))}`), slot text encoder |
| parameters | {params / 1e6:.2f} M; weights {size_mb:.1f} MB (fp16 safetensors, upsampler included) |
| output | 8 frames, 32x32, 8 fps (longer clips chain 8-frame chunks; larger sizes: learned upsampler) |
| sampling | {sampling} |
| modes | text-to-video; image-to-video (the image is the first frame) |
| training | {trained} |
| final loss | {t["final_loss"]} (EMA of the flow-matching MSE) |

Regenerate: `python -m tools.shapes.train --model {args.model} --steps {t["steps"]}`
(then `python -m tools.shapes.card --model {args.model}`).

## Prompt adherence

{s["n"]} fresh prompts (evaluation seed {EVAL_SEED}, new phrasings), rendered at {SIZE}x{SIZE} and checked
on the pixels by `local_models.shapes.adherence` (colour of the object, shape class by template fit,
direction of the centroid's travel):

| all three | colour | shape | direction | seconds per clip (batch of 16, with the upsampler) |
|---|---|---|---|---|
{scores}

Direction by prompted motion: {by_motion}.

Adherence during training (48 prompts each): {history}.

{_readability_section(pipe, path, report)}

Contact sheet (first {SHEET_ROWS} prompts, every frame at {SIZE}x{SIZE} as served):
`docs/shapes/{sheet.name}`.

## Vocabulary

Colours red, green, blue, yellow, white, orange, purple; shapes circle (disc, ball, dot), square
(box, block), triangle; motion left, right, up, down (rising, falling, ...), still (motionless, not
moving); speed slowly, quickly; size small, big; backgrounds black, gray, dark blue. Words outside
the vocabulary are ignored; word order does not matter.
"""
    (path / "README.md").write_text(card)
    print(card)


def _readability_section(pipe: Any, path: Path, report: dict[str, Any]) -> str:
    """The card's section on whether the shapes read as the shapes asked for, and the upsampler."""
    r = report["readability"]
    up = pipe.upsampler
    record_path = path / "upsampler" / "training.json"
    record = json.loads(record_path.read_text()) if record_path.is_file() else {}
    rows = "\n".join(
        f"| {label} | {r[key]['mean_iou']:.3f} | {r[key]['share_readable']:.1%} | "
        f"{r[key]['shape_ok']:.1%} | {r[key]['adherence']:.1%} |"
        for key, label in (("before", "bicubic (before)"), ("after", "learned upsampler"))
        if key in r
    )
    trained = (
        f"{record['steps']} steps, batch {record['batch']}, {record['threads']} CPU threads, "
        f"{record['train_seconds'] / 60:.0f} min (plus {record['render_seconds'] / 60:.0f} min rendering the "
        "models' clips); "
        f"{record['real_pairs']} pairs from the shipped models' frames (seed {record['clips']['seed']}) "
        f"and {record['synthetic_frames']} synthetic frames"
        if record
        else "not recorded"
    )
    params = sum(p.numel() for p in up.parameters()) if up is not None else 0
    return f"""## Readability at {r["size"]}x{r["size"]}

Do the frames read as the shape asked for? Per frame, the subject (pixels over halfway from the
background colour to its own) against the ideal shape asked for, fitted to its centroid and area:
intersection over union, averaged over the clip (`tools/shapes/readability.py`). A clip reads as its
shape at IoU >= {r["threshold"]} with no other shape fitting better (a square scores 0.83 against a
circle of the same area, so a lower bar would pass the wrong shape). Same {report["summary"]["n"]}
prompts and 32x32 frames, two ways up, with the adherence checks of the section above on each:

| upsampling | mean IoU | reads as its shape | shape check | all three checks |
|---|---|---|---|---|
{rows}

The upsampler (`ShapesUpsampler`, {params / 1e3:.0f} k parameters, in `upsampler/`) is a small UNet
at 32x32 with a 4x pixel shuffle, adding a learned correction to the bicubic image, frame by frame,
without the prompt. Training: {trained}.
Regenerate: `python -m tools.shapes.upsampler_train` (writes both models' `upsampler/`)."""


if __name__ == "__main__":
    main()
