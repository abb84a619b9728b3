"""The GPU proof in one table: full-size random-weight Wan 2.1 1.3B and LTX-Video transformers at their
published default sizes (bf16), each speed feature on vs off, batched vs single throughput, and the
fused RMSNorm+RoPE kernel's bandwidth against a device copy.

    python bench/gpu.py            # on a CUDA machine (bench/gpu.sh runs it with the rest)
    python bench/gpu.py --dry      # on a CPU: tiny configs, the same code paths, seconds not minutes

Seconds per denoising step count two transformer forwards (classifier-free guidance). Weights are
random (nothing is downloaded); the work per step is the real model's. Compare ratios within one run.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

# Published configs: Wan2.1-T2V-1.3B (832x480, 81 frames -> latents 21x60x104) and LTX-Video 0.9
# (704x480, 161 frames -> latents 21x15x22, 128 channels).
WAN_1_3B = dict(num_attention_heads=12, attention_head_dim=128, ffn_dim=8960, num_layers=30, text_dim=4096)
LTX_VIDEO = dict(num_attention_heads=32, attention_head_dim=64, num_layers=28, cross_attention_dim=2048)
TINY_WAN = dict(num_attention_heads=2, attention_head_dim=16, ffn_dim=64, num_layers=2, text_dim=32)
TINY_LTX = dict(num_attention_heads=2, attention_head_dim=16, num_layers=2, cross_attention_dim=32)
BACKENDS = ("_native_cudnn", "_native_flash", "flash")  # the first one that works is timed


def timed(fn: Callable[[], Any], repeats: int) -> float:
    fn()  # warm-up (and, with compile, the compilation)
    sync()
    started = time.perf_counter()
    for _ in range(repeats):
        fn()
    sync()
    return (time.perf_counter() - started) / repeats


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def wan(dry: bool, device: str, dtype: torch.dtype, batch: int = 1) -> tuple[Any, Callable[[], Any]]:
    from diffusers import WanTransformer3DModel

    cfg = TINY_WAN if dry else WAN_1_3B
    with torch.device(device):
        model = WanTransformer3DModel(in_channels=16, out_channels=16, **cfg).to(dtype).eval()  # type: ignore[arg-type]
    frames, height, width = (3, 8, 8) if dry else (21, 60, 104)
    latents = torch.randn(batch, 16, frames, height, width, device=device, dtype=dtype)
    text = torch.randn(batch, 512, cfg["text_dim"], device=device, dtype=dtype)
    t = torch.full((batch,), 500, device=device)

    def step() -> Any:
        with torch.inference_mode():
            return model(latents, t, text, return_dict=False)

    return model, step


def ltx(dry: bool, device: str, dtype: torch.dtype) -> tuple[Any, Callable[[], Any]]:
    from diffusers import LTXVideoTransformer3DModel

    cfg = TINY_LTX if dry else LTX_VIDEO
    caption = 32 if dry else 4096
    with torch.device(device):
        model = LTXVideoTransformer3DModel(in_channels=128, out_channels=128, caption_channels=caption, **cfg)
        model = model.to(dtype).eval()
    frames, height, width = (2, 4, 4) if dry else (21, 15, 22)
    tokens = torch.randn(1, frames * height * width, 128, device=device, dtype=dtype)
    text = torch.randn(1, 128, caption, device=device, dtype=dtype)
    mask = torch.ones(1, 128, device=device, dtype=dtype)
    t = torch.full((1,), 500, device=device)

    def step() -> Any:
        with torch.inference_mode():
            return model(
                tokens, text, t, mask, num_frames=frames, height=height, width=width, return_dict=False
            )

    return model, step


def feature_rows(name: str, build: Callable[[], tuple[Any, Callable[[], Any]]], dry: bool) -> list[str]:
    """Off (default attention, eager), then each feature on: an attention backend, compiled blocks."""
    repeats = 1 if dry else 3
    model, step = build()
    base = 2 * timed(step, repeats)
    rows = [f"| {name}: seconds per step (CFG, eager, SDPA) | {base:.3f} | 1.00x |"]
    if not dry:
        for backend in BACKENDS:
            try:
                model.set_attention_backend(backend)
                seconds = 2 * timed(step, repeats)
            except Exception as exc:  # not built into this torch/diffusers: say so and try the next
                rows.append(f"| {name}: attention {backend} | unavailable ({type(exc).__name__}) | - |")
                continue
            rows.append(f"| {name}: attention {backend} | {seconds:.3f} | {base / seconds:.2f}x |")
            model.reset_attention_backend()
            break
    if not dry and hasattr(model, "compile_repeated_blocks"):
        model.compile_repeated_blocks(fullgraph=False)
        seconds = 2 * timed(step, repeats)
        rows.append(f"| {name}: torch.compile (repeated blocks) | {seconds:.3f} | {base / seconds:.2f}x |")
    del model
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return rows


def batch_rows(dry: bool, device: str, dtype: torch.dtype) -> list[str]:
    """The same clips one call each vs one batched call (the case for batched generation)."""
    n = 4
    _, single = wan(dry, device, dtype, batch=1)
    _, batched = wan(dry, device, dtype, batch=n)
    repeats = 1 if dry else 3
    one = timed(single, repeats) * n
    together = timed(batched, repeats)
    return [
        f"| wan 1.3B: {n} clips, one forward each | {one:.3f} | 1.00x |",
        f"| wan 1.3B: {n} clips, one batched forward | {together:.3f} | {one / together:.2f}x |",
    ]


def kernel_rows(dry: bool, device: str, dtype: torch.dtype) -> list[str]:
    from local_models.kernels import kernel_available, rmsnorm_rope, rmsnorm_rope_reference

    s, heads, d = (64, 2, 32) if dry else (32_760, 12, 128)
    x = torch.randn(1, s, heads * d, device=device, dtype=dtype)
    w = torch.rand(heads * d, device=device, dtype=dtype) + 0.5
    half = d // 2
    angles = torch.arange(s, device=device)[:, None] * (
        1.0 / 10000 ** (torch.arange(half, device=device) / half)
    )
    cos, sin = angles.cos().float(), angles.sin().float()
    ref = timed(functools.partial(rmsnorm_rope_reference, x, w, cos, sin), 5)
    rows = [f"| RMSNorm+RoPE {s}x{heads}x{d}: unfused torch | {ref * 1e3:.3f} ms | 1.00x |"]
    if not kernel_available(device):
        return [*rows, "| RMSNorm+RoPE: fused Triton kernel | unavailable here (needs CUDA and triton) | - |"]
    fused = timed(functools.partial(rmsnorm_rope, x, w, cos, sin), 20)
    copy = timed(x.clone, 20)
    moved = 2 * x.numel() * x.element_size() + w.numel() * w.element_size() + 2 * cos.numel() * 4
    bw, copy_bw = moved / fused / 1e9, 2 * x.numel() * x.element_size() / copy / 1e9
    return [
        *rows,
        f"| RMSNorm+RoPE: fused Triton kernel | {fused * 1e3:.3f} ms | {ref / fused:.2f}x |",
        f"| RMSNorm+RoPE: bandwidth vs a device copy | {bw:.0f} of {copy_bw:.0f} GB/s | {bw / copy_bw:.0%} |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dry", action="store_true", help="tiny configs on the CPU (checks the script)")
    args = parser.parse_args()
    cuda = torch.cuda.is_available() and not args.dry
    dry = not cuda
    device, dtype = ("cuda", torch.bfloat16) if cuda else ("cpu", torch.float32)
    name = torch.cuda.get_device_name() if cuda else "CPU (dry run: tiny configs, not the real sizes)"
    from diffusers.utils import logging as diffusers_logging

    diffusers_logging.set_verbosity_error()
    sections: list[tuple[str, Callable[[], list[str]]]] = [
        ("wan", lambda: feature_rows("wan 1.3B 832x480x81", lambda: wan(dry, device, dtype), dry)),
        ("ltx", lambda: feature_rows("ltx-video 704x480x161", lambda: ltx(dry, device, dtype), dry)),
        ("batch", lambda: batch_rows(dry, device, dtype)),
        ("kernel", lambda: kernel_rows(dry, device, dtype)),
    ]
    rows: list[str] = []
    for label, section in sections:
        try:  # one section failing (memory, a missing backend) must not cost the others' numbers
            rows += section()
        except Exception as exc:
            rows.append(f"| {label}: failed | {type(exc).__name__}: {str(exc)[:80]} | - |")
    print(f"\nGPU proof on {name}, {str(dtype).removeprefix('torch.')}\n")
    print("| measurement | seconds (or as said) | vs baseline |")
    print("|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
