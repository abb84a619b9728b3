"""Speed features per model family: seconds per clip with each feature on vs off, and what it costs.

    python bench/model_speed.py [--families wan,ltx,...] [--steps 20] [--size 128] [--frames 17]
                                [--compile] [--device cuda] [--attention flash]

Each family's tiny test build with its transformer widened and deepened to a "small" random-weight
config (8 blocks, 4 heads of 32), so the transformer, not the text encoder, does most of the work.
Each feature is applied exactly as a catalog entry's ``options`` would apply it (same code path),
on a fresh copy of the transformer. Difference is against the feature-off clip of the same seed:
mean absolute pixel difference (0-255) and PSNR. Times are the median of ``--runs`` after a warm-up;
compare ratios within one run, not across machines.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from local_models import VideoRequest, get_family, resolve, run_pipeline
from local_models.catalog import CatalogEntry
from local_models.loading import LoadedPipeline, load_entry
from local_models.speed import apply_speed_options, calibrate_magcache
from tests.fixtures.tiny_models import build_tiny

BIGGER: dict[str, dict[str, Any]] = {
    "wan": {"num_attention_heads": 4, "attention_head_dim": 32, "ffn_dim": 512, "num_layers": 8},
    "ltx": {"num_attention_heads": 4, "attention_head_dim": 32, "cross_attention_dim": 128, "num_layers": 8},
    "cogvideox": {"num_attention_heads": 4, "attention_head_dim": 32, "num_layers": 8},
    "mochi": {"num_attention_heads": 4, "attention_head_dim": 32, "num_layers": 8},
    "hunyuan": {
        "num_attention_heads": 4,
        "attention_head_dim": 32,
        "rope_axes_dim": (8, 12, 12),
        "num_layers": 4,
        "num_single_layers": 8,
    },
}
ATTENTION = {  # TaylorSeer's cache_identifiers: the self-attention modules of each family's blocks
    "wan": [r"^blocks\.\d+\.attn1$"],
    "ltx": [r"^transformer_blocks\.\d+\.attn1$"],
    "cogvideox": [r"^transformer_blocks\.\d+\.attn1$"],
    "mochi": [r"^transformer_blocks\.\d+\.attn1$"],
    "hunyuan": [r"^transformer_blocks\.\d+\.attn$", r"^single_transformer_blocks\.\d+\.attn$"],
}


def build(family: str, root: Path) -> tuple[CatalogEntry, LoadedPipeline, Any]:
    path = root / family
    build_tiny(family, path)
    entry = CatalogEntry(id=family, family=family, weights=str(path))
    loaded = load_entry(entry, "t2v", root / "models", device=ARGS.device)
    small = loaded.pipe.transformer
    torch.manual_seed(0)
    big = type(small).from_config(small.config, **BIGGER[family]).to(ARGS.device, small.dtype).eval()
    return entry, loaded, big


def clip(loaded: LoadedPipeline, family: str, params: Any) -> np.ndarray:
    return run_pipeline(
        loaded, family, params, "a red circle moving right", None, lambda d, t: None, threading.Event()
    ).frames


def timed(loaded: LoadedPipeline, family: str, params: Any) -> tuple[float, np.ndarray]:
    out = clip(loaded, family, params)  # warm-up (and compile, when on)
    times = []
    for _ in range(ARGS.runs):
        started = time.perf_counter()
        out = clip(loaded, family, params)
        if ARGS.device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - started)
    return statistics.median(times), out


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


Row = tuple[str, str, float, float, float, float]


def bench_family(family: str, root: Path) -> list[Row]:
    entry, loaded, big = build(family, root)
    spec = get_family(family).spec(entry)
    params = resolve(
        spec,
        VideoRequest(
            mode="t2v",
            size=(ARGS.size, ARGS.size),
            frames=spec.frames.nearest(ARGS.frames),  # the family's rule: Mochi 6k+1, LTX 8k+1...
            steps=ARGS.steps,
            seed=1,
        ),
    )
    params = params.__class__(**{**params.as_dict(), "audio": False})
    features: list[tuple[str, dict[str, Any]]] = [("off", {})]
    if ARGS.attention:
        features.append((f"attention={ARGS.attention}", {"attention_backend": ARGS.attention}))
    features += [
        ("first-block cache 0.1", {"cache": "first_block", "cache_threshold": 0.1}),
        ("TaylorSeer (attention)", {"cache": "taylorseer", "cache_identifiers": ATTENTION[family]}),
        ("TaylorSeer (lite)", {"cache": "taylorseer"}),
        ("MagCache (calibrated)", {"cache": "magcache"}),
        ("VAE tiling", {"vae_tiling": True}),
    ]
    if ARGS.compile:
        features.append(("compile blocks", {"compile": True}))
    rows = []
    base: np.ndarray | None = None
    base_s = 0.0
    for name, options in features:
        loaded.pipe.register_modules(transformer=copy.deepcopy(big))
        if options.get("cache") == "magcache":
            ratios = calibrate_magcache(loaded.pipe, lambda: clip(loaded, family, params), params.steps)
            options = {**options, "mag_ratios": ratios}
            loaded.pipe.register_modules(transformer=copy.deepcopy(big))
        try:
            apply_speed_options(loaded.pipe, options, device=ARGS.device)
            seconds, out = timed(loaded, family, params)
        except Exception as exc:  # a feature a family cannot take is a row, not a crash
            print(f"  {family} {name}: {type(exc).__name__}: {str(exc)[:120]}", file=sys.stderr)
            continue
        if base is None:
            base, base_s = out, seconds
        diff = float(np.abs(out.astype(np.int16) - base.astype(np.int16)).mean())
        rows.append(
            (f"{family} ({params.frames} frames)", name, seconds, base_s / seconds, diff, psnr(out, base))
        )
        print(f"  {family:10} {name:24} {seconds:7.3f}s", file=sys.stderr, flush=True)
    return rows


def main() -> None:
    torch.set_num_threads(ARGS.threads)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for family in ARGS.families.split(","):
            rows += bench_family(family, Path(tmp))
    print(
        f"\n{ARGS.size}x{ARGS.size}, {ARGS.frames} frames, {ARGS.steps} steps, guidance on, "
        f"device {ARGS.device}, {ARGS.threads} threads\n"
    )
    print("| family | feature | s/clip | speed-up | mean abs diff | PSNR dB |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for family, name, seconds, ratio, diff, db in rows:
        print(f"| {family} | {name} | {seconds:.3f} | {ratio:.2f}x | {diff:.2f} | {db:.1f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--families", default="wan,ltx,cogvideox,hunyuan,mochi")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--frames", type=int, default=17)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--attention", default=None, help="also time this attention backend (e.g. flash)")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile of the blocks")
    ARGS = parser.parse_args()
    main()
