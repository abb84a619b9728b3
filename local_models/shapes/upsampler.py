"""``ShapesUpsampler``: a small learned decoder from the models' native 32x32 frames to crisp 128x128.

The diffusion model renders at 32x32, where a shape is 7 to 15 pixels across and a pixel of wobble on
its edge turns a circle into a heart once it is blown up. Bicubic interpolation keeps that wobble and
blurs the edge; this network, trained on pairs of (32x32 frames like the models' output, the ideal
shape at 128x128), draws the edge the frame implies, crisp. It sees only pixels, one frame at a time
(no prompt), and adds a correction to the bicubic upsample, so colour, position and size stay the
model's.

A tiny UNet at 32x32 (down to 8x8, so a whole shape is in view) ending in a 4x pixel shuffle. It is
the pipeline's optional ``upsampler`` component; sizes other than 128 resize its 128x128 output.
"""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

__all__ = ["ShapesUpsampler", "resize_frames"]


class _Res(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return cast(torch.Tensor, x + self.conv2(F.silu(self.conv1(F.silu(x)))))


class ShapesUpsampler(ModelMixin, ConfigMixin):  # type: ignore[misc]
    """(N, 3, 32, 32) frames in [0, 1] -> (N, 3, 128, 128) in [0, 1]."""

    @register_to_config  # type: ignore[untyped-decorator]
    def __init__(self, channels: tuple[int, int, int] = (24, 32, 48), scale: int = 4) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.scale = scale
        c0, c1, c2 = channels
        self.inp = nn.Conv2d(3, c0, 3, padding=1)
        self.enc0 = _Res(c0)
        self.down1 = nn.Conv2d(c0, c1, 3, stride=2, padding=1)
        self.enc1 = _Res(c1)
        self.down2 = nn.Conv2d(c1, c2, 3, stride=2, padding=1)
        self.mid = nn.Sequential(_Res(c2), _Res(c2))
        self.up2 = nn.Conv2d(c2, c1, 3, padding=1)
        self.dec1 = _Res(c1)
        self.up1 = nn.Conv2d(c1, c0, 3, padding=1)
        self.dec0 = _Res(c0)
        self.out = nn.Conv2d(c0, 3 * scale * scale, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)  # type: ignore[arg-type]

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        scale = self.scale
        x = frames * 2 - 1
        h0 = self.enc0(self.inp(x))
        h1 = self.enc1(self.down1(F.silu(h0)))
        h2 = self.mid(self.down2(F.silu(h1)))
        h1 = self.dec1(h1 + self.up2(F.interpolate(F.silu(h2), scale_factor=2.0, mode="nearest")))
        h0 = self.dec0(h0 + self.up1(F.interpolate(F.silu(h1), scale_factor=2.0, mode="nearest")))
        residual = F.pixel_shuffle(self.out(F.silu(h0)), scale)
        base = F.interpolate(frames, scale_factor=float(scale), mode="bicubic", align_corners=False)
        return (base + residual).clamp(0, 1)


def resize_frames(
    frames: torch.Tensor, height: int, width: int, upsampler: ShapesUpsampler | None
) -> torch.Tensor:
    """Resize (N, 3, h, w) frames in [0, 1] for display to ``height`` x ``width``: through ``upsampler``
    when there is one and the size is above the frames' own, then bicubic (antialiased to shrink)."""
    if (height, width) == tuple(frames.shape[-2:]):
        return frames
    if upsampler is not None and max(height, width) > max(frames.shape[-2:]):
        param = next(upsampler.parameters())
        decoded = torch.cat([upsampler(frames[i : i + 64].to(param)) for i in range(0, len(frames), 64)])
        frames = decoded.to(frames)
        if (height, width) == tuple(frames.shape[-2:]):
            return frames
    shrink = height < frames.shape[-2] or width < frames.shape[-1]
    resized = F.interpolate(
        frames, size=(height, width), mode="bicubic", align_corners=False, antialias=shrink
    )
    return resized.clamp(0, 1)
