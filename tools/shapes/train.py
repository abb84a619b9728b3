"""Train a shapes model from a fixed seed on procedural clips (nothing is downloaded).

    python -m tools.shapes.train --model shapes-fast [--steps 3000] [--threads 1]

Writes the EMA weights (fp16) with ``save_pretrained`` to ``local_models/shapes/weights/<model>``
every ``--save-every`` steps and at the end, plus ``training.json`` (time, loss, adherence). A learned
upsampler already in ``upsampler/`` is kept; ``python -m tools.shapes.upsampler_train`` retrains it.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from local_models.shapes.presets import PRESETS
from local_models.shapes.text import MAX_TOKENS
from local_models.shapes.vocab import write_prompt

from . import WEIGHTS
from .data import render_clips, sample_attributes, sample_specs

__all__ = ["build_pipeline", "curriculum", "train"]


def build_pipeline(name: str, *, seed: int = 0) -> Any:
    """A freshly initialised (untrained) pipeline for preset ``name``."""
    from diffusers import FlowMatchEulerDiscreteScheduler

    from local_models.shapes.pipeline import ShapesPipeline
    from local_models.shapes.text import ShapesTextEncoder, build_tokenizer, concept_table, token_concepts
    from local_models.shapes.unet import ShapesUNet

    preset = PRESETS[name]
    torch.manual_seed(seed)
    tokenizer = build_tokenizer()
    text_encoder = ShapesTextEncoder(token_concepts(tokenizer), concept_table())
    denoiser = ShapesUNet(**preset.config)
    scheduler = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=1.0)
    return ShapesPipeline(
        tokenizer=tokenizer, text_encoder=text_encoder, denoiser=denoiser, scheduler=scheduler
    )


def curriculum(step: int, *, hold: int, ramp: int) -> float:
    """Geometry randomness: fixed paths for ``hold`` steps, then ramped to fully random."""
    return float(min(1.0, max(0.0, (step - hold) / max(1, ramp))))


def make_batch(
    rng: random.Random, batch: int, randomness: float, frames: int, size: int, tokenizer: Any
) -> tuple[torch.Tensor, torch.Tensor]:
    attrs = [sample_attributes(rng) for _ in range(batch)]
    prompts = [write_prompt(a, rng) for a in attrs]
    clips = render_clips(
        sample_specs(attrs, rng, frames=frames, size=size, randomness=randomness), frames=frames, size=size
    )
    ids = tokenizer(
        prompts, padding="max_length", max_length=MAX_TOKENS, truncation=True, return_tensors="pt"
    ).input_ids
    return torch.from_numpy(clips), ids


@torch.no_grad()
def ema_update(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    for e, p in zip(ema.parameters(), model.parameters(), strict=True):
        e.mul_(decay).add_(p.detach(), alpha=1 - decay)


def train(
    name: str,
    *,
    steps: int,
    batch: int,
    lr: float,
    seed: int,
    threads: int,
    out: Path,
    save_every: int,
    eval_every: int,
    hold: int,
    ramp: int,
    log: Any = print,
) -> dict[str, Any]:
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    rng = random.Random(seed)
    preset = PRESETS[name]
    pipe = build_pipeline(name, seed=seed)
    denoiser, text_encoder, tokenizer = pipe.denoiser, pipe.text_encoder, pipe.tokenizer
    frames, size = denoiser.config.num_frames, denoiser.config.sample_size
    params = list(denoiser.parameters()) + list(text_encoder.parameters())
    opt = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.99), weight_decay=0.01)
    warmup = 100

    def lr_at(step: int) -> float:
        if step < warmup:
            return lr * (step + 1) / warmup
        progress = (step - warmup) / max(1, steps - warmup)
        return lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))

    ema_pipe = copy.deepcopy(pipe)
    ema_modules = (ema_pipe.denoiser, ema_pipe.text_encoder)
    for module in ema_modules:
        module.requires_grad_(False)
    started = time.time()
    loss_avg = None
    history: list[dict[str, Any]] = []
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step)
        clips, ids = make_batch(rng, batch, curriculum(step, hold=hold, ramp=ramp), frames, size, tokenizer)
        drop = torch.rand(batch, text_encoder.num_slots) < 0.1
        drop |= (torch.rand(batch) < 0.1)[:, None]  # the empty prompt, for classifier-free guidance
        slots = text_encoder(ids, drop)
        first = clips[:, :, 0] if rng.random() < 0.5 else None  # image-to-video half of the time
        t = torch.sigmoid(torch.randn(batch))  # logit-normal, as in SD3
        noise = torch.randn_like(clips)
        tt = t[:, None, None, None, None]
        noisy = (1 - tt) * clips + tt * noise
        pred = denoiser(noisy, t, slots, first)
        loss = torch.nn.functional.mse_loss(pred, noise - clips)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        decay = min(0.999, (1 + step) / (10 + step))
        ema_update(ema_pipe.denoiser, denoiser, decay)
        ema_update(ema_pipe.text_encoder, text_encoder, decay)
        loss_avg = loss.item() if loss_avg is None else 0.98 * loss_avg + 0.02 * loss.item()
        if (step + 1) % 50 == 0:
            log(
                f"{name} step {step + 1}/{steps} loss {loss_avg:.4f} lr {lr_at(step):.2e} "
                f"randomness {curriculum(step, hold=hold, ramp=ramp):.2f} {time.time() - started:.0f}s"
            )
        if eval_every and (step + 1) % eval_every == 0:
            from .evaluate import evaluate

            report = evaluate(
                ema_pipe, n=48, seed=10_000 + step, steps=preset.steps, guidance=preset.guidance
            )
            history.append({"step": step + 1, "loss": round(loss_avg, 5), **report["summary"]})
            log(f"{name} eval @ {step + 1}: {report['summary']}")
        if (save_every and (step + 1) % save_every == 0) or step + 1 == steps:
            save(
                ema_pipe,
                out,
                {
                    "model": name,
                    "steps": step + 1,
                    "batch": batch,
                    "lr": lr,
                    "seed": seed,
                    "threads": threads,
                    "train_seconds": round(time.time() - started, 1),
                    "final_loss": round(float(loss_avg), 5),
                    "evals": history,
                    "curriculum": {"hold": hold, "ramp": ramp},
                },
            )
    return {"train_seconds": time.time() - started, "final_loss": loss_avg, "evals": history}


def save(pipe: Any, out: Path, record: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    half = copy.deepcopy(pipe)
    half.denoiser.to(torch.float16)
    half.text_encoder.to(torch.float16)
    half.save_pretrained(out)
    (out / "training.json").write_text(json.dumps(record, indent=2))
    index = json.loads((out / "model_index.json").read_text())
    if (out / "upsampler" / "config.json").is_file() and index.get("upsampler", [None])[0] is None:
        # Keep the learned upsampler already there (retrain it for the new weights with
        # ``python -m tools.shapes.upsampler_train``).
        index["upsampler"] = ["local_models.shapes.upsampler", "ShapesUpsampler"]
        (out / "model_index.json").write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", choices=sorted(PRESETS), required=True)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--save-every", type=int, default=500)
    parser.add_argument("--eval-every", type=int, default=500)
    parser.add_argument("--hold", type=int, default=300, help="curriculum: steps with fixed paths")
    parser.add_argument("--ramp", type=int, default=900, help="curriculum: steps to reach full randomness")
    args = parser.parse_args()
    np.random.seed(args.seed)
    train(
        args.model,
        steps=args.steps,
        batch=args.batch,
        lr=args.lr,
        seed=args.seed,
        threads=args.threads,
        out=args.out or WEIGHTS / args.model,
        save_every=args.save_every,
        eval_every=args.eval_every,
        hold=args.hold,
        ramp=args.ramp,
        log=lambda msg: print(msg, flush=True),
    )


if __name__ == "__main__":
    main()
