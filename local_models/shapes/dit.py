"""``shapes-hq``: a small spatio-temporal transformer (DiT) in pixel space.

4x4 patches (64 tokens per 32x32 frame); each block attends within a frame, then across frames at
each patch position, then cross-attends to the prompt's slot embeddings; adaLN-zero modulation per
frame from :class:`~local_models.shapes.conditioning.FrameConditioning`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

from .conditioning import FrameConditioning
from .unet import conditioning_channels

__all__ = ["ShapesTransformer"]


class _Attention(nn.Module):
    def __init__(self, dim: int, heads: int, context_dim: int | None = None) -> None:
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(context_dim or dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        n, length, dim = x.shape
        ctx = x if context is None else context
        q = self.q(x).view(n, length, self.heads, -1).transpose(1, 2)
        k, v = self.kv(ctx).view(n, ctx.shape[1], 2, self.heads, -1).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(n, length, dim))


class _Block(nn.Module):
    def __init__(self, dim: int, heads: int, text_dim: int, cond_dim: int, mlp_ratio: float) -> None:
        super().__init__()
        self.norms = nn.ModuleList([nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6) for _ in range(4)])
        self.spatial = _Attention(dim, heads)
        self.temporal = _Attention(dim, heads)
        self.cross = _Attention(dim, heads, context_dim=text_dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, dim))
        # shift, scale, gate for spatial, temporal, mlp; gate for cross.
        self.ada = nn.Linear(cond_dim, 10 * dim)
        nn.init.zeros_(self.ada.weight)
        nn.init.zeros_(self.ada.bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor, slots: torch.Tensor) -> torch.Tensor:
        # x: (B, T, N, D); cond: (B, T, E)
        b, t, n, d = x.shape
        mods = self.ada(cond)[:, :, None].chunk(10, dim=-1)
        s_shift, s_scale, s_gate, t_shift, t_scale, t_gate, m_shift, m_scale, m_gate, c_gate = mods
        h = self.norms[0](x) * (1 + s_scale) + s_shift
        x = x + s_gate * self.spatial(h.reshape(b * t, n, d)).view(b, t, n, d)
        h = (self.norms[1](x) * (1 + t_scale) + t_shift).transpose(1, 2).reshape(b * n, t, d)
        x = x + t_gate * self.temporal(h).view(b, n, t, d).transpose(1, 2)
        h = self.norms[2](x).reshape(b, t * n, d)
        x = x + c_gate * self.cross(h, slots).view(b, t, n, d)
        h = self.norms[3](x) * (1 + m_scale) + m_shift
        return x + m_gate * self.mlp(h)


class ShapesTransformer(ModelMixin, ConfigMixin):  # type: ignore[misc]
    """Predicts the flow-matching velocity (noise - clean) of a (B, 3, T, 32, 32) clip."""

    @register_to_config
    def __init__(
        self,
        dim: int = 128,
        depth: int = 4,
        heads: int = 4,
        patch: int = 4,
        mlp_ratio: float = 2.0,
        cond_dim: int = 128,
        text_dim: int = 64,
        num_slots: int = 6,
        num_frames: int = 8,
        sample_size: int = 32,
        stem_channels: int = 32,
    ) -> None:
        super().__init__()
        self.patch = patch
        grid = sample_size // patch
        self.cond = FrameConditioning(text_dim, num_slots, cond_dim, num_frames)
        # A full-resolution conv stem before patchifying, and a conv refiner after: a linear patch
        # decoder alone leaves visible 4x4 blocks in pixel space.
        self.stem = nn.Sequential(
            nn.Conv2d(7, stem_channels, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(stem_channels, stem_channels, 3, padding=1),
        )
        self.embed = nn.Linear(stem_channels * patch * patch, dim)
        self.pos = nn.Parameter(torch.zeros(1, 1, grid * grid, dim))
        self.time_pos = nn.Parameter(torch.zeros(1, num_frames, 1, dim))
        nn.init.normal_(self.pos, std=0.02)
        nn.init.normal_(self.time_pos, std=0.02)
        self.blocks = nn.ModuleList([_Block(dim, heads, text_dim, cond_dim, mlp_ratio) for _ in range(depth)])
        self.out_norm = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.out_mod = nn.Linear(cond_dim, 2 * dim)
        self.out = nn.Linear(dim, 3 * patch * patch)
        self.refine = nn.Sequential(
            nn.Conv2d(3 + 7, stem_channels, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(stem_channels, stem_channels, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(stem_channels, 3, 3, padding=1),
        )
        for layer in (self.out_mod, self.out, self.refine[-1]):
            nn.init.zeros_(layer.weight)  # type: ignore[arg-type]
            nn.init.zeros_(layer.bias)  # type: ignore[arg-type]

    def forward(
        self,
        sample: torch.Tensor,
        timestep: torch.Tensor,
        slots: torch.Tensor,
        first_frame: torch.Tensor | None = None,
    ) -> torch.Tensor:
        b, _, t, h, w = sample.shape
        p = self.patch
        cond = self.cond(timestep, slots, t)
        inputs = conditioning_channels(sample, first_frame).permute(0, 2, 1, 3, 4).reshape(b * t, 7, h, w)
        x = F.pixel_unshuffle(self.stem(inputs), p)  # (B*T, stem*p*p, H/p, W/p)
        x = x.flatten(2).transpose(1, 2).reshape(b, t, -1, x.shape[1])
        x = self.embed(x) + self.pos + self.time_pos[:, :t]
        for block in self.blocks:
            x = block(x, cond, slots)
        shift, scale = self.out_mod(cond)[:, :, None].chunk(2, dim=-1)
        x = self.out(self.out_norm(x) * (1 + scale) + shift)  # (B, T, N, 3*p*p)
        x = x.view(b * t, h // p, w // p, 3 * p * p).permute(0, 3, 1, 2)
        x = F.pixel_shuffle(x, p)  # (B*T, 3, H, W)
        x = x + self.refine(torch.cat([x, inputs], dim=1))
        return x.view(b, t, 3, h, w).permute(0, 2, 1, 3, 4)
