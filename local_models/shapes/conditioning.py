"""Per-frame conditioning shared by both shapes denoisers.

For frame ``f`` of ``T``: ``time(t) + text(slots) + frame(f) + ramp(f) * motion(slots)``, where
``ramp`` runs from -1 to 1 over the clip. The last term is what lets a small network learn
direction quickly: it can place the object by scaling one learned vector per frame.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["FrameConditioning", "timestep_embedding"]


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of ``t`` in [0, 1] (scaled to 0-1000 like diffusers' timesteps)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = (t.float() * 1000.0)[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class FrameConditioning(nn.Module):
    def __init__(
        self,
        text_dim: int,
        num_slots: int,
        cond_dim: int,
        num_frames: int,
        motion_slots: tuple[int, ...] = (2, 3),
    ) -> None:
        super().__init__()
        self.cond_dim = cond_dim
        self.motion_slots = list(motion_slots)
        self.time = nn.Sequential(nn.Linear(cond_dim, cond_dim), nn.SiLU(), nn.Linear(cond_dim, cond_dim))
        self.text = nn.Sequential(
            nn.Linear(text_dim * num_slots, cond_dim), nn.SiLU(), nn.Linear(cond_dim, cond_dim)
        )
        self.motion = nn.Sequential(
            nn.Linear(text_dim * len(motion_slots), cond_dim), nn.SiLU(), nn.Linear(cond_dim, cond_dim)
        )
        self.frame = nn.Parameter(torch.zeros(num_frames, cond_dim))
        nn.init.normal_(self.frame, std=0.02)

    def forward(self, t: torch.Tensor, slots: torch.Tensor, num_frames: int) -> torch.Tensor:
        """(B,) times and (B, S, D) slots -> (B, T, cond_dim)."""
        b = slots.shape[0]
        base = self.time(timestep_embedding(t, self.cond_dim)) + self.text(slots.reshape(b, -1))
        motion = self.motion(slots[:, self.motion_slots].reshape(b, -1))
        ramp = torch.linspace(-1.0, 1.0, num_frames, device=slots.device, dtype=slots.dtype)
        frame = self.frame[:num_frames]
        return torch.nn.functional.silu(base[:, None] + frame[None] + ramp[None, :, None] * motion[:, None])
