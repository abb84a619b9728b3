"""Train the shapes models' learned upsampler (``ShapesUpsampler``, 32x32 -> 128x128) on a CPU.

    python -m tools.shapes.upsampler_train [--steps 1800] [--threads 2] [--cache /tmp/shapes-up]

About 25 minutes on 2 CPU threads, plus 5 rendering 96 shapes-fast and 48 shapes-hq clips (kept in
``--cache`` for a rerun).

Pairs of (32x32 input, 128x128 target) come from two sources, half of each batch apiece:

- synthetic: training clips rendered at 128x128 by the training data's own renderer, averaged down to
  32x32 and degraded the way the models' frames are (a smooth random warp of the edge, blur, noise);
- the shipped models' own 32x32 frames for fresh prompts (seeds no evaluation uses), paired with the
  ideal shape the prompt asked for, in the prompt's colours, at the centroid and area measured on the
  frame. Only clips whose shape and colour the adherence checker confirms, and frames already close
  to that shape (IoU >= 0.55), are kept: the upsampler learns to sharpen what the model drew, not to
  replace it.

Both sides get the same random channel permutation and colour gain (so colour passes through) and
horizontal flips. Training sees 24x24 windows around the subject (96x96 targets) and an L1 loss
weighted up in the band where the shape's edge is decided. The same weights are written to every
model's ``upsampler/`` folder (fp16), with ``training.json``.
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
import torch.nn.functional as F

from local_models.shapes.adherence import check_clip
from local_models.shapes.presets import PRESETS
from local_models.shapes.upsampler import ShapesUpsampler
from local_models.shapes.vocab import BACKGROUNDS, COLOURS, Attributes

from . import WEIGHTS
from .data import ClipSpec, render_clips, sample_attributes, sample_specs
from .readability import fitted_coverage, frame_iou
from .samples import model_clips

__all__ = ["attach", "degrade", "real_pairs", "synthetic_pairs", "train"]

SCALE = 4
NATIVE = 32
TRAIN_SEED = 2718  # prompts and sampling seeds of the model frames used for training (no test uses it)
_MIN_IOU = 0.55
CROP = 24  # training windows, in 32x32 pixels (a whole shape, and some background around it)
EDGE_WEIGHT = 4.0


def synthetic_pairs(rng: random.Random, clips: int) -> torch.Tensor:
    """Ideal training clips rendered at 128x128: (clips * 8, 3, 128, 128) uint8 targets."""
    attrs = [sample_attributes(rng) for _ in range(clips)]
    specs = [
        ClipSpec(s.attrs, s.x0 * SCALE, s.y0 * SCALE, s.extent * SCALE, s.vx * SCALE, s.vy * SCALE)
        for s in sample_specs(attrs, rng, frames=8, size=NATIVE)
    ]
    out = []
    for i in range(0, clips, 16):
        big = render_clips(specs[i : i + 16], frames=8, size=NATIVE * SCALE)  # (B, 3, T, H, W)
        frames = torch.from_numpy(((big + 1) * 127.5).round().astype(np.uint8))
        out.append(frames.transpose(1, 2).flatten(0, 1))
    return torch.cat(out)


def _coverage(frame: np.ndarray, fg: np.ndarray, bg: np.ndarray) -> np.ndarray:
    """Per-pixel coverage of the subject: the projection of each colour on the bg -> fg line."""
    axis = fg - bg
    alpha = np.clip((frame.astype(np.float32) - bg) @ axis / float(axis @ axis), 0.0, 1.0)
    return np.asarray(alpha * (alpha > 0.15))


def ideal_target(frame: np.ndarray, attrs: Attributes) -> np.ndarray | None:
    """The ideal shape ``attrs`` asks for at the centroid and area of the subject in one 32x32 uint8
    frame, rendered at 128x128 in the prompt's colours: (3, 128, 128) uint8 (None if no subject)."""
    fg = np.array(COLOURS[attrs.colour or "white"], dtype=np.float32)
    bg = np.array(BACKGROUNDS[attrs.background or "black"], dtype=np.float32)
    alpha = _coverage(frame, fg, bg)
    area = float(alpha.sum())
    if area < 6:
        return None
    grid = np.arange(NATIVE, dtype=np.float32) + 0.5
    cx = float((alpha.sum(axis=0) * grid).sum() / area)
    cy = float((alpha.sum(axis=1) * grid).sum() / area)
    size = NATIVE * SCALE
    cover = fitted_coverage(attrs.shape or "circle", cx * SCALE, cy * SCALE, area * SCALE**2, size)
    rgb = bg[:, None, None] + (fg - bg)[:, None, None] * cover[None]
    return np.asarray(rgb.round().astype(np.uint8))


def real_pairs(clips: np.ndarray, attrs: list[Attributes]) -> tuple[torch.Tensor, torch.Tensor]:
    """Pairs from model frames: (M, 3, 32, 32) float inputs in [0, 1], (M, 3, 128, 128) uint8 targets."""
    inputs, targets = [], []
    for clip, a in zip(clips, attrs, strict=True):
        frames = (clip * 255).round().astype(np.uint8)
        check = check_clip(frames, a)
        if not (check.shape_ok and check.colour_ok):
            continue
        for frame, raw in zip(frames, clip, strict=True):
            if frame_iou(frame, a.shape or "circle", BACKGROUNDS[a.background or "black"]) < _MIN_IOU:
                continue
            target = ideal_target(frame, a)
            if target is not None:
                inputs.append(torch.from_numpy(raw).permute(2, 0, 1))
                targets.append(torch.from_numpy(target))
    return torch.stack(inputs).float(), torch.stack(targets)


def _smooth_field(n: int, amplitude: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random smooth displacement fields (n, 32, 32, 2) in grid_sample units, ``amplitude`` px at 32."""
    coarse = torch.randn(n, 2, 5, 5, generator=gen)
    field = F.interpolate(coarse, size=(NATIVE, NATIVE), mode="bicubic", align_corners=True)
    return (field * amplitude[:, None, None, None] * 2 / NATIVE).permute(0, 2, 3, 1)


def degrade(targets: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """32x32 inputs like the models' frames from (N, 3, 128, 128) float targets in [0, 1]."""
    n = targets.shape[0]
    small = F.avg_pool2d(targets, SCALE)
    base = torch.stack(
        torch.meshgrid(torch.linspace(-1, 1, NATIVE), torch.linspace(-1, 1, NATIVE), indexing="xy"), dim=-1
    )
    base = base * (NATIVE - 1) / NATIVE  # pixel centres, as with align_corners=False
    warp = _smooth_field(n, torch.rand(n, generator=gen) * 1.2, gen)
    small = F.grid_sample(small, base + warp, mode="bilinear", padding_mode="border", align_corners=False)
    kernel = torch.tensor([1.0, 2.0, 1.0])
    kernel = (kernel[:, None] * kernel[None, :] / 16).expand(3, 1, 3, 3)
    blurred = F.conv2d(F.pad(small, (1, 1, 1, 1), mode="replicate"), kernel, groups=3)
    mix = torch.rand(n, 1, 1, 1, generator=gen) * 0.6
    small = small + (blurred - small) * mix
    noise = torch.randn(small.shape, generator=gen) * torch.rand(n, 1, 1, 1, generator=gen) * 0.025
    return (small + noise).clamp(0, 1)


def _augment(x: torch.Tensor, y: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """The same channel permutation, colour gain and horizontal flip on inputs and targets."""
    n = x.shape[0]
    perm = torch.stack([torch.randperm(3, generator=gen) for _ in range(n)])
    idx = perm[:, :, None, None]
    x = x.gather(1, idx.expand_as(x))
    y = y.gather(1, idx.expand_as(y))
    gain = 0.85 + 0.3 * torch.rand(n, 3, 1, 1, generator=gen)
    x, y = (x * gain).clamp(0, 1), (y * gain).clamp(0, 1)
    flip = torch.rand(n, generator=gen) < 0.5
    x[flip], y[flip] = x[flip].flip(-1), y[flip].flip(-1)
    return x, y


def _batch(
    real: tuple[torch.Tensor, torch.Tensor], synth: torch.Tensor, size: int, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    half = size // 2
    r = torch.randint(len(real[0]), (half,), generator=gen)
    s = torch.randint(len(synth), (size - half,), generator=gen)
    synth_y = synth[s].float() / 255
    x = torch.cat([real[0][r], degrade(synth_y, gen)])
    y = torch.cat([real[1][r].float() / 255, synth_y])
    return _crop(*_augment(x, y, gen), gen)


def _subject(y: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) masks of target pixels over halfway from the background (the corner's colour)."""
    dist = (y - y[:, :, :1, :1]).norm(dim=1, keepdim=True)
    return dist > 0.5 * dist.amax(dim=(2, 3), keepdim=True).clamp_min(1e-3)


def _crop(x: torch.Tensor, y: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """CROP x CROP windows holding the subject (somewhere inside): shapes, not background, to learn on."""
    mask = _subject(y).float()[:, 0]
    area = mask.sum(dim=(1, 2)).clamp_min(1.0)
    grid = torch.arange(NATIVE * SCALE, dtype=torch.float32)
    cx = (mask.sum(dim=1) * grid).sum(dim=1) / area / SCALE
    cy = (mask.sum(dim=2) * grid).sum(dim=1) / area / SCALE
    jitter = torch.randint(-4, 5, (2, len(x)), generator=gen)
    left = (cx.round().long() - CROP // 2 + jitter[0]).clamp(0, NATIVE - CROP).tolist()
    top = (cy.round().long() - CROP // 2 + jitter[1]).clamp(0, NATIVE - CROP).tolist()
    big = CROP * SCALE
    xs, ys = [], []
    for i, (t, le) in enumerate(zip(top, left, strict=True)):
        xs.append(x[i, :, t : t + CROP, le : le + CROP])
        ys.append(y[i, :, t * SCALE : t * SCALE + big, le * SCALE : le * SCALE + big])
    return torch.stack(xs), torch.stack(ys)


def _weights(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-pixel loss weights: EDGE_WEIGHT more near the target's edge and where bicubic gets the
    subject wrong (the shape is decided in a thin band; the flat background is easy)."""
    target = _subject(y)
    base = _subject(F.interpolate(x, scale_factor=float(SCALE), mode="bicubic", align_corners=False))
    edge = F.max_pool2d(target.float(), 3, 1, 1) != -F.max_pool2d(-target.float(), 3, 1, 1)
    band = F.max_pool2d((edge | (target ^ base)).float(), 7, 1, 3)
    return 1 + EDGE_WEIGHT * band


def train(
    real: tuple[torch.Tensor, torch.Tensor],
    synth: torch.Tensor,
    *,
    steps: int,
    batch: int = 48,
    lr: float = 2e-3,
    seed: int = 0,
    log: Any = print,
) -> ShapesUpsampler:
    """Fit a fresh upsampler (edge-weighted L1 at 4x; AdamW, one-cycle) and return it in eval mode."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    net = ShapesUpsampler()
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.05)
    started, avg = time.time(), None
    for step in range(steps):
        x, y = _batch(real, synth, batch, gen)
        w = _weights(x, y)
        loss = ((net(x) - y).abs() * w).sum() / (w.sum() * 3)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        avg = loss.item() if avg is None else 0.98 * avg + 0.02 * loss.item()
        if (step + 1) % 100 == 0:
            log(f"upsampler step {step + 1}/{steps} loss {avg:.4f} {time.time() - started:.0f}s")
    return net.eval()


def attach(net: ShapesUpsampler, model_dir: Path, record: dict[str, Any] | None = None) -> None:
    """Save ``net`` (fp16) as ``model_dir``'s ``upsampler`` component and list it in model_index.json."""
    # A copy (the caller's network stays fp32) whose config records no path it was loaded from.
    half = ShapesUpsampler(channels=tuple(net.config["channels"]), scale=int(net.config["scale"]))
    half.load_state_dict(net.state_dict())
    half.to(torch.float16).save_pretrained(model_dir / "upsampler")
    for path in (model_dir / "upsampler").iterdir():
        path.chmod(0o644)  # safetensors writes 0600; the package's other weights are world-readable
    index_path = model_dir / "model_index.json"
    index = json.loads(index_path.read_text())
    index["upsampler"] = ["local_models.shapes.upsampler", "ShapesUpsampler"]
    index_path.write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
    if record is not None:
        (model_dir / "upsampler" / "training.json").write_text(json.dumps(record, indent=2) + "\n")


def _real_data(
    counts: dict[str, int], cache: Path | None, log: Any
) -> tuple[tuple[torch.Tensor, torch.Tensor], float]:
    """Real pairs from each model's clips (rendered, or read from ``cache``), and the seconds the
    rendering took (as recorded in the cache when it was made)."""
    from local_models.shapes.pipeline import ShapesPipeline

    xs, ys, seconds = [], [], 0.0
    for name, n in counts.items():
        cached = cache / f"{name}_{TRAIN_SEED}_{n}.npz" if cache else None
        if cached and cached.is_file():
            data = np.load(cached)
            clips, attrs = data["clips"], [Attributes(*a) for a in json.loads(str(data["attrs"]))]
            took = float(data["seconds"])
        else:
            pipe = ShapesPipeline.from_pretrained(WEIGHTS / name, dtype=torch.float32)
            pipe.set_progress_bar_config(disable=True)
            started = time.time()
            clips, attrs, _ = model_clips(pipe, PRESETS[name], n=n, seed=TRAIN_SEED)
            took = time.time() - started
            if cached:
                cached.parent.mkdir(parents=True, exist_ok=True)
                rows = json.dumps([a.slot_values() for a in attrs])
                np.savez_compressed(cached, clips=clips, attrs=np.array(rows), seconds=np.array(took))
        x, y = real_pairs(clips, attrs)
        log(f"{name}: {len(x)} real pairs from {n} clips (rendered in {took:.0f}s)")
        xs.append(x)
        ys.append(y)
        seconds += took
    return (torch.cat(xs), torch.cat(ys)), seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=1800)
    parser.add_argument("--batch", type=int, default=48)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--fast-clips", type=int, default=96, help="shapes-fast clips for real pairs")
    parser.add_argument("--hq-clips", type=int, default=48, help="shapes-hq clips for real pairs")
    parser.add_argument("--synthetic-clips", type=int, default=256)
    parser.add_argument("--cache", type=Path, default=None, help="keep the model clips here")
    parser.add_argument("--out", type=Path, nargs="*", default=[WEIGHTS / name for name in sorted(PRESETS)])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    log = lambda msg: print(msg, flush=True)  # noqa: E731
    started = time.time()
    counts = {"shapes-fast": args.fast_clips, "shapes-hq": args.hq_clips}
    real, render_seconds = _real_data({k: v for k, v in counts.items() if v > 0}, args.cache, log)
    synth = synthetic_pairs(random.Random(TRAIN_SEED), args.synthetic_clips)
    data_seconds = time.time() - started
    net = train(real, synth, steps=args.steps, batch=args.batch, log=log)
    record = {
        "steps": args.steps,
        "batch": args.batch,
        "threads": args.threads,
        "real_pairs": len(real[0]),
        "synthetic_frames": len(synth),
        "clips": {"shapes-fast": args.fast_clips, "shapes-hq": args.hq_clips, "seed": TRAIN_SEED},
        "render_seconds": round(render_seconds, 1),
        "data_seconds": round(data_seconds, 1),
        "train_seconds": round(time.time() - started - data_seconds, 1),
        "parameters": sum(p.numel() for p in net.parameters()),
    }
    for out in args.out:
        attach(net, out, record)
    log(json.dumps(record))


if __name__ == "__main__":
    main()
