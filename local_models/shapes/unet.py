"""``shapes-fast``: a small factorized space-time conv UNet in pixel space.

Spatial 3x3 convolutions per frame, a temporal convolution per pixel after each block, and
per-frame FiLM from :class:`~local_models.shapes.conditioning.FrameConditioning`. The 32x32 input is
pixel-unshuffled to 16x16 first, which keeps it cheap enough to train and sample on a CPU.
"""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

from .conditioning import FrameConditioning

__all__ = ["ShapesUNet", "conditioning_channels"]


def conditioning_channels(sample: torch.Tensor, first_frame: torch.Tensor | None) -> torch.Tensor:
    """(B, 3, T, H, W) sample -> (B, 7, T, H, W): the sample, the given first frame at t=0, its mask."""
    b, _, t, h, w = sample.shape
    extra = sample.new_zeros(b, 4, t, h, w)
    if first_frame is not None:
        extra[:, :3, 0] = first_frame
        extra[:, 3, 0] = 1.0
    return torch.cat([sample, extra], dim=1)


class _Block(nn.Module):
    def __init__(self, cin: int, cout: int, cond_dim: int) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(8, cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.film = nn.Linear(cond_dim, 2 * cout)
        self.norm2 = nn.GroupNorm(8, cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.temporal = nn.Conv1d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()
        nn.init.zeros_(self.temporal.weight)
        nn.init.zeros_(self.temporal.bias)  # type: ignore[arg-type]

    def forward(self, x: torch.Tensor, cond: torch.Tensor, frames: int) -> torch.Tensor:
        # x: (B*T, C, H, W); cond: (B, T, E)
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.film(cond).flatten(0, 1)[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(F.silu(h))
        h = h + self.skip(x)
        bt, c, hh, ww = h.shape
        seq = h.view(bt // frames, frames, c, hh * ww).permute(0, 3, 2, 1).reshape(-1, c, frames)
        seq = seq + self.temporal(F.silu(seq))
        return cast(
            torch.Tensor,
            seq.view(bt // frames, hh * ww, c, frames).permute(0, 3, 2, 1).reshape(bt, c, hh, ww),
        )


class _SelfAttention(nn.Module):
    """Self-attention over (B*groups, L, C) tokens, pre-norm, zero-initialised output (starts as identity)."""

    def __init__(self, channels: int, heads: int = 4) -> None:
        super().__init__()
        self.heads = heads
        self.norm = nn.LayerNorm(channels)
        self.qkv = nn.Linear(channels, 3 * channels)
        self.proj = nn.Linear(channels, channels)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, length, c = x.shape
        q, k, v = (
            self.qkv(self.norm(x)).view(n, length, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        )
        out = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(n, length, c)
        return cast(torch.Tensor, x + self.proj(out))


def _temporal_attention(attn: _SelfAttention, x: torch.Tensor, frames: int) -> torch.Tensor:
    """Attend across frames at each pixel: (B*T, C, H, W) in and out."""
    bt, c, h, w = x.shape
    seq = x.view(bt // frames, frames, c, h * w).permute(0, 3, 1, 2).reshape(-1, frames, c)
    seq = attn(seq)
    return cast(
        torch.Tensor, seq.view(bt // frames, h * w, frames, c).permute(0, 2, 3, 1).reshape(bt, c, h, w)
    )


def _spacetime_attention(attn: _SelfAttention, x: torch.Tensor, frames: int) -> torch.Tensor:
    """Attend over every pixel of every frame at once: (B*T, C, H, W) in and out."""
    bt, c, h, w = x.shape
    seq = x.view(bt // frames, frames, c, h * w).permute(0, 1, 3, 2).reshape(bt // frames, frames * h * w, c)
    seq = attn(seq)
    return cast(
        torch.Tensor, seq.view(bt // frames, frames, h * w, c).permute(0, 1, 3, 2).reshape(bt, c, h, w)
    )


class ShapesUNet(ModelMixin, ConfigMixin):  # type: ignore[misc]
    """Predicts the flow-matching velocity (noise - clean) of a (B, 3, T, 32, 32) clip."""

    @register_to_config  # type: ignore[untyped-decorator]
    def __init__(
        self,
        channels: tuple[int, ...] = (48, 96, 128),
        cond_dim: int = 128,
        text_dim: int = 64,
        num_slots: int = 6,
        num_frames: int = 8,
        sample_size: int = 32,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.cond = FrameConditioning(text_dim, num_slots, cond_dim, num_frames)
        self.stem = nn.Conv2d(7 * 4, channels[0], 3, padding=1)
        self.down = nn.ModuleList()
        cin = channels[0]
        for cout in channels:
            self.down.append(_Block(cin, cout, cond_dim))
            cin = cout
        self.mid = _Block(cin, cin, cond_dim)
        # Where is the object in each frame? Global space-time attention at the coarsest level
        # (4x4 x 8 frames = 128 tokens) and temporal attention one level up decide it coherently.
        self.mid_attn = _SelfAttention(cin)
        self.mid2 = _Block(cin, cin, cond_dim)
        self.temporal_attn = nn.ModuleList([_SelfAttention(c) for c in channels[1:]])
        self.up = nn.ModuleList()
        for cout in reversed(channels):
            self.up.append(_Block(cin + cout, cout, cond_dim))
            cin = cout
        self.out_norm = nn.GroupNorm(8, cin)
        self.out = nn.Conv2d(cin, 3 * 4, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)  # type: ignore[arg-type]

    def forward(
        self,
        sample: torch.Tensor,
        timestep: torch.Tensor,
        slots: torch.Tensor,
        first_frame: torch.Tensor | None = None,
    ) -> torch.Tensor:
        b, _, frames, h, w = sample.shape
        cond = self.cond(timestep, slots, frames)
        x = conditioning_channels(sample, first_frame).permute(0, 2, 1, 3, 4).reshape(b * frames, 7, h, w)
        x = self.stem(F.pixel_unshuffle(x, 2))
        skips = []
        for i, block in enumerate(self.down):
            x = block(x, cond, frames)
            if i > 0:
                x = _temporal_attention(self.temporal_attn[i - 1], x, frames)  # type: ignore[arg-type]
            skips.append(x)
            if i < len(self.down) - 1:
                x = F.avg_pool2d(x, 2)
        x = self.mid(x, cond, frames)
        x = _spacetime_attention(self.mid_attn, x, frames)
        x = self.mid2(x, cond, frames)
        for block in self.up:
            skip = skips.pop()
            if x.shape[-1] != skip.shape[-1]:
                x = F.interpolate(x, size=skip.shape[-2:], mode="nearest")
            x = block(torch.cat([x, skip], dim=1), cond, frames)
        x = F.pixel_shuffle(self.out(F.silu(self.out_norm(x))), 2)
        return x.view(b, frames, 3, h, w).permute(0, 2, 1, 3, 4)
