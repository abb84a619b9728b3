"""Fused RMSNorm + rotary embedding on attention queries/keys, the hot elementwise path of video DiTs.

``y = rope(x / rms(x) * weight)`` per token row, RMS taken over the whole row (Wan's
``rms_norm_across_heads``), RoPE rotating interleaved pairs ``(x[2i], x[2i+1])`` of each head by the
token's angle. One kernel reads each element once and writes it once, instead of the 4-6 passes of
the unfused torch code. :func:`rmsnorm_rope_reference` is the same math in plain torch.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import torch

__all__ = ["kernel_available", "rmsnorm_rope", "rmsnorm_rope_reference"]


def rmsnorm_rope_reference(
    x: torch.Tensor, weight: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, eps: float = 1e-6
) -> torch.Tensor:
    """``x``: (B, S, H*D); ``weight``: (H*D,); ``cos``/``sin``: (S, D/2). Returns (B, S, H*D)."""
    b, s, n = x.shape
    half = cos.shape[-1]
    heads = n // (2 * half)
    xf = x.float()
    y = xf * torch.rsqrt(xf.pow(2).mean(dim=-1, keepdim=True) + eps) * weight.float()
    pairs = y.view(b, s, heads, half, 2)
    even, odd = pairs[..., 0], pairs[..., 1]
    c = cos.float().view(1, s, 1, half)
    sn = sin.float().view(1, s, 1, half)
    out = torch.stack((even * c - odd * sn, even * sn + odd * c), dim=-1)
    return out.view(b, s, n).to(x.dtype)


@functools.cache
def _kernel() -> Any:
    """Compile on first use (so ``TRITON_INTERPRET=1`` set by the caller is honoured)."""
    import triton
    import triton.language as tl

    @triton.jit  # type: ignore[untyped-decorator]
    def rmsnorm_rope_kernel(  # type: ignore[no-untyped-def]
        x_ptr, w_ptr, cos_ptr, sin_ptr, out_ptr, seq_len, n_pairs, half, eps, BLOCK: tl.constexpr
    ):
        row = tl.program_id(0)
        pos = row % seq_len
        j = tl.arange(0, BLOCK)
        mask = j < n_pairs
        base = row * n_pairs * 2
        x_even = tl.load(x_ptr + base + 2 * j, mask=mask, other=0.0).to(tl.float32)
        x_odd = tl.load(x_ptr + base + 2 * j + 1, mask=mask, other=0.0).to(tl.float32)
        mean_sq = (tl.sum(x_even * x_even, axis=0) + tl.sum(x_odd * x_odd, axis=0)) / (2 * n_pairs)
        inv = 1.0 / tl.sqrt(mean_sq + eps)
        y_even = x_even * inv * tl.load(w_ptr + 2 * j, mask=mask, other=0.0).to(tl.float32)
        y_odd = x_odd * inv * tl.load(w_ptr + 2 * j + 1, mask=mask, other=0.0).to(tl.float32)
        k = j % half
        c = tl.load(cos_ptr + pos * half + k, mask=mask, other=1.0).to(tl.float32)
        s = tl.load(sin_ptr + pos * half + k, mask=mask, other=0.0).to(tl.float32)
        tl.store(out_ptr + base + 2 * j, (y_even * c - y_odd * s).to(out_ptr.dtype.element_ty), mask=mask)
        tl.store(out_ptr + base + 2 * j + 1, (y_even * s + y_odd * c).to(out_ptr.dtype.element_ty), mask=mask)

    return rmsnorm_rope_kernel


def kernel_available(device: torch.device | str) -> bool:
    """The Triton path runs on CUDA, or anywhere under ``TRITON_INTERPRET=1``; else the reference runs."""
    if os.environ.get("FRAMEGATE_KERNELS", "on") == "off":
        return False
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return torch.device(device).type == "cuda" or os.environ.get("TRITON_INTERPRET") == "1"


def rmsnorm_rope(
    x: torch.Tensor, weight: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, eps: float = 1e-6
) -> torch.Tensor:
    """Fused when a kernel can run on ``x``'s device, the torch reference otherwise (same result)."""
    if not kernel_available(x.device):
        return rmsnorm_rope_reference(x, weight, cos, sin, eps)
    import triton

    b, s, n = x.shape
    half = cos.shape[-1]
    if n % (2 * half):
        raise ValueError(f"row width {n} is not a whole number of heads of {2 * half}")
    x = x.contiguous()
    out = torch.empty_like(x)
    n_pairs = n // 2
    _kernel()[(b * s,)](
        x,
        weight.contiguous(),
        cos.contiguous(),
        sin.contiguous(),
        out,
        s,
        n_pairs,
        half,
        eps,
        BLOCK=triton.next_power_of_2(n_pairs),
    )
    return out
