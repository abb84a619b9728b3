"""Fused RMSNorm+RoPE (Triton) against the unfused torch code, and its bandwidth against the device's.

    python bench/kernels.py

On CUDA: seconds per call for Wan-1.3B-sized q/k (and bigger), the bytes the op must move (read x,
write y, plus weight and tables) divided by the time, and a device-to-device copy of the same bytes as
the practical peak. Without CUDA it says so and times the torch reference only.
"""

from __future__ import annotations

import functools
import time

import torch

from local_models.kernels import kernel_available, rmsnorm_rope, rmsnorm_rope_reference

SHAPES = [(1, 4_680, 12, 128), (1, 32_760, 12, 128), (1, 32_760, 40, 128)]  # Wan 1.3B 480p / 720p, 14B 720p


def timed(fn, repeats: int = 20) -> float:  # type: ignore[no-untyped-def]
    fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(repeats):
        fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return (time.perf_counter() - started) / repeats


def main() -> None:
    cuda = torch.cuda.is_available()
    device = "cuda" if cuda else "cpu"
    dtype = torch.bfloat16 if cuda else torch.float32
    name = torch.cuda.get_device_name() if cuda else "CPU (no CUDA: the reference path only)"
    print(f"\nFused RMSNorm+RoPE on {name}, {dtype}\n")
    print("| tokens x heads x dim | unfused ms | fused ms | speed-up | fused GB/s | copy GB/s | of copy |")
    print("|----------------------|------------|----------|----------|------------|-----------|---------|")
    for shape in SHAPES if cuda else SHAPES[:1]:
        print(row(shape, device, dtype))


def row(shape: tuple[int, int, int, int], device: str, dtype: torch.dtype) -> str:
    b, s, heads, d = shape
    x = torch.randn(b, s, heads * d, device=device, dtype=dtype)
    w = torch.rand(heads * d, device=device, dtype=dtype) + 0.5
    half = d // 2
    angles = torch.arange(s, device=device)[:, None] * (
        1.0 / 10000 ** (torch.arange(half, device=device) / half)
    )
    cos, sin = angles.cos().float(), angles.sin().float()
    ref = timed(functools.partial(rmsnorm_rope_reference, x, w, cos, sin))
    label = f"| {s:>6} x {heads:>2} x {d:<3}     | {ref * 1e3:10.3f} "
    if not kernel_available(device):
        return label + "|        - |        - |          - |         - |       - |"
    fused = timed(functools.partial(rmsnorm_rope, x, w, cos, sin))
    copy = timed(x.clone)
    moved = 2 * x.numel() * x.element_size() + w.numel() * w.element_size() + 2 * cos.numel() * 4
    bw = moved / fused / 1e9
    copy_bw = 2 * x.numel() * x.element_size() / copy / 1e9
    return (
        label
        + f"| {fused * 1e3:8.3f} | {ref / fused:7.2f}x | {bw:10.0f} | {copy_bw:9.0f} | {bw / copy_bw:6.0%} |"
    )


if __name__ == "__main__":
    main()
