"""The fused RMSNorm+RoPE kernel matches its torch reference: on CUDA when there is one, and on every CI
run through Triton's interpreter on the CPU (TRITON_INTERPRET=1), so the kernel's logic is always tested."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import pytest
import torch

from local_models.kernels import rmsnorm_rope, rmsnorm_rope_reference


def _rope_tables(seq: int, half: int) -> tuple[torch.Tensor, torch.Tensor]:
    freqs = 1.0 / (10000 ** (torch.arange(half, dtype=torch.float32) / half))
    angles = torch.arange(seq, dtype=torch.float32)[:, None] * freqs[None]
    return angles.cos(), angles.sin()


def test_reference_is_rmsnorm_then_rope() -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 5, 8)
    w = torch.rand(8) + 0.5
    cos, sin = _rope_tables(5, 2)
    out = rmsnorm_rope_reference(x, w, cos, sin)
    normed = x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * w
    # Position 0 has angle 0: only the norm applies.
    assert torch.allclose(out[:, 0], normed[:, 0], atol=1e-6)
    # A rotation keeps each pair's length.
    pairs_in = normed.view(2, 5, 4, 2).norm(dim=-1)
    pairs_out = out.view(2, 5, 4, 2).norm(dim=-1)
    assert torch.allclose(pairs_in, pairs_out, atol=1e-5)
    # And rotates by the angle: (1, 0) at position p, frequency k -> (cos, sin).
    angle = math.atan2(out[0, 3, 1].item(), out[0, 3, 0].item()) - math.atan2(
        normed[0, 3, 1].item(), normed[0, 3, 0].item()
    )
    assert math.isclose(math.cos(angle), cos[3, 0].item(), abs_tol=1e-4)


def test_without_cuda_the_reference_runs() -> None:
    x = torch.randn(1, 3, 16)
    cos, sin = _rope_tables(3, 4)
    env_free = rmsnorm_rope(x, torch.ones(16), cos, sin)
    assert torch.equal(env_free, rmsnorm_rope_reference(x, torch.ones(16), cos, sin))


INTERPRETED = r"""
import torch
from local_models.kernels import kernel_available, rmsnorm_rope, rmsnorm_rope_reference
assert kernel_available("cpu")
torch.manual_seed(1)
for b, s, heads, d in [(1, 4, 2, 8), (2, 7, 3, 16), (1, 3, 12, 10)]:  # 12x10: not a power of two
    half = d // 2
    x = torch.randn(b, s, heads * d)
    w = torch.rand(heads * d) + 0.5
    freqs = 1.0 / (10000 ** (torch.arange(half) / half))
    angles = torch.arange(s)[:, None] * freqs[None]
    got = rmsnorm_rope(x, w, angles.cos(), angles.sin())
    want = rmsnorm_rope_reference(x, w, angles.cos(), angles.sin())
    assert torch.allclose(got, want, atol=1e-5, rtol=1e-5), (got - want).abs().max()
print("ok")
"""


def test_triton_kernel_matches_reference_in_the_interpreter() -> None:
    pytest.importorskip("triton")
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    result = subprocess.run(
        [sys.executable, "-c", INTERPRETED], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_triton_kernel_matches_reference_on_cuda(dtype: torch.dtype) -> None:
    torch.manual_seed(2)
    b, s, heads, d = 2, 1024, 12, 128
    x = torch.randn(b, s, heads * d, device="cuda", dtype=dtype)
    w = (torch.rand(heads * d, device="cuda") + 0.5).to(dtype)
    cos, sin = (t.cuda() for t in _rope_tables(s, d // 2))
    tol = 1e-5 if dtype == torch.float32 else 2e-2
    assert torch.allclose(
        rmsnorm_rope(x, w, cos, sin).float(),
        rmsnorm_rope_reference(x, w, cos, sin).float(),
        atol=tol,
        rtol=tol,
    )
