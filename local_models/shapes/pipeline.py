"""``ShapesPipeline``: text (and optionally a first frame) to a short clip of a moving shape.

A diffusers ``DiffusionPipeline`` with four components: a word-level tokenizer, the slot text
encoder, a denoiser (``ShapesUNet``) and ``FlowMatchEulerDiscreteScheduler``, plus an optional fifth,
the learned ``upsampler`` (``ShapesUpsampler``). It renders at the model's native 32x32 and, when
asked for more, decodes each frame to a crisp 128x128 with the upsampler (resized to the size asked);
only a pipeline saved without one falls back to bicubic interpolation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch
from diffusers import DiffusionPipeline, FlowMatchEulerDiscreteScheduler
from diffusers.utils.outputs import BaseOutput
from diffusers.utils.torch_utils import randn_tensor
from PIL import Image

# Diffusers loads a component class only from a module that is already imported.
from . import text, unet  # noqa: F401
from .text import MAX_TOKENS
from .upsampler import resize_frames  # also registers ShapesUpsampler for loading

__all__ = ["ShapesPipeline", "ShapesPipelineOutput", "image_to_tensor"]


@dataclass
class ShapesPipelineOutput(BaseOutput):
    frames: Any  # (B, T, H, W, 3) floats in [0, 1] for output_type="np"; tensors for "pt"


def image_to_tensor(image: Image.Image, size: int) -> torch.Tensor:
    """Centre-crop to a square, resize to the native size, scale to [-1, 1]: (3, size, size)."""
    image = image.convert("RGB")
    w, h = image.size
    side = min(w, h)
    image = image.crop(((w - side) // 2, (h - side) // 2, (w - side) // 2 + side, (h - side) // 2 + side))
    image = image.resize((size, size), Image.Resampling.BICUBIC)
    return torch.from_numpy(np.asarray(image, dtype=np.float32) / 127.5 - 1.0).permute(2, 0, 1)


class ShapesPipeline(DiffusionPipeline):
    model_cpu_offload_seq = "text_encoder->denoiser"
    _optional_components = ["upsampler"]
    tokenizer: Any
    text_encoder: Any
    denoiser: Any
    scheduler: Any
    upsampler: Any

    def __init__(
        self,
        tokenizer: Any,
        text_encoder: Any,
        denoiser: Any,
        scheduler: FlowMatchEulerDiscreteScheduler,
        upsampler: Any = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.register_modules(  # type: ignore[attr-defined]
            tokenizer=tokenizer,
            text_encoder=text_encoder,
            denoiser=denoiser,
            scheduler=scheduler,
            upsampler=upsampler,
        )

    @property
    def native_size(self) -> int:
        return int(self.denoiser.config.sample_size)

    @property
    def native_frames(self) -> int:
        return int(self.denoiser.config.num_frames)

    def encode_prompt(self, prompt: list[str]) -> torch.Tensor:
        ids = self.tokenizer(
            prompt, padding="max_length", max_length=MAX_TOKENS, truncation=True, return_tensors="pt"
        ).input_ids.to(self.text_encoder.device)
        return cast(torch.Tensor, self.text_encoder(ids))

    @torch.no_grad()
    def __call__(
        self,
        prompt: str | list[str],
        image: Image.Image | list[Image.Image] | None = None,
        num_frames: int | None = None,
        height: int | None = None,
        width: int | None = None,
        num_inference_steps: int = 8,
        guidance_scale: float = 3.0,
        generator: torch.Generator | None = None,
        output_type: str = "np",
        callback_on_step_end: Callable[..., dict[str, Any]] | None = None,
        return_dict: bool = True,
    ) -> ShapesPipelineOutput | tuple[Any]:
        prompts = [prompt] if isinstance(prompt, str) else list(prompt)
        batch = len(prompts)
        size = self.native_size
        chunk = self.native_frames
        frames = num_frames or chunk
        if frames < chunk or (frames - 1) % (chunk - 1):
            raise ValueError(f"num_frames must be {chunk} + {chunk - 1}k (chunks chain on their last frame)")
        chunks = 1 + (frames - chunk) // (chunk - 1)
        device = self.denoiser.device
        dtype = next(self.denoiser.parameters()).dtype
        slots = self.encode_prompt(prompts).to(dtype)
        first = None
        if image is not None:
            images = [image] * batch if isinstance(image, Image.Image) else list(image)
            first = torch.stack([image_to_tensor(img, size) for img in images]).to(device, dtype)
        cfg = guidance_scale > 1.0
        if cfg:
            slots = torch.cat([self.text_encoder.empty(batch, device).to(dtype), slots])
        pieces = []
        for index in range(chunks):
            clip = self._denoise(
                batch,
                slots,
                first,
                size,
                chunk,
                num_inference_steps,
                guidance_scale,
                cfg,
                generator,
                device,
                dtype,
                callback_on_step_end,
                index * num_inference_steps,
            )
            pieces.append(clip if index == 0 else clip[:, :, 1:])
            # The next chunk starts from this one's last frame: image-to-video on our own output.
            first = clip[:, :, -1].clamp(-1, 1)
        latents = torch.cat(pieces, dim=2)
        video = (latents.float().clamp(-1, 1) + 1) / 2  # (B, 3, T, H, W) in [0, 1]
        out_h, out_w = height or size, width or size
        if (out_h, out_w) != (size, size):
            flat = video.permute(0, 2, 1, 3, 4).reshape(batch * frames, 3, size, size)
            flat = resize_frames(flat, out_h, out_w, self.upsampler)
            video = flat.view(batch, frames, 3, out_h, out_w).permute(0, 2, 1, 3, 4)
        result: Any = video.permute(0, 2, 3, 4, 1)  # (B, T, H, W, 3)
        if output_type == "np":
            result = result.cpu().numpy()
        if not return_dict:
            return (result,)
        return ShapesPipelineOutput(frames=result)

    def _denoise(
        self,
        batch: int,
        slots: torch.Tensor,
        first: torch.Tensor | None,
        size: int,
        frames: int,
        steps: int,
        guidance_scale: float,
        cfg: bool,
        generator: torch.Generator | None,
        device: torch.device,
        dtype: torch.dtype,
        callback: Callable[..., Any] | None,
        step_offset: int,
    ) -> torch.Tensor:
        latents = randn_tensor(
            (batch, 3, frames, size, size), generator=generator, device=device, dtype=dtype
        )
        cond_first = torch.cat([first, first]) if (cfg and first is not None) else first
        self.scheduler.set_timesteps(steps, device=device)
        for i, t in enumerate(self.scheduler.timesteps):
            model_in = torch.cat([latents, latents]) if cfg else latents
            sigma = (t / self.scheduler.config.num_train_timesteps).expand(model_in.shape[0]).to(dtype)
            velocity = self.denoiser(model_in, sigma, slots, cond_first)
            if cfg:
                uncond, cond = velocity.chunk(2)
                velocity = uncond + guidance_scale * (cond - uncond)
            latents = self.scheduler.step(velocity, t, latents, return_dict=False)[0]
            if callback is not None:
                callback(self, step_offset + i, t, {"latents": latents})
        return cast(torch.Tensor, latents)
