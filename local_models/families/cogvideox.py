"""CogVideoX (``CogVideoXPipeline``, ``CogVideoXImageToVideoPipeline``): t2v and i2v are separate checkpoints.

Rules: frames ``8k+1`` up to the checkpoint's ``sample_frames`` (49 for 1.0, 81 for 1.5): the VAE
compresses time 4x and decodes an odd number of latent frames to ``4n+1`` frames (an even number
would come back as ``4n``, not what was asked for), 8 fps
(1.5: 16, set in the catalog), width and height multiples of 16 (8x VAE, 2x2 patches); a
checkpoint with learned positional embeddings (CogVideoX-5B-I2V 1.0) serves only the size it was
trained at. The text length comes from ``transformer.config.max_text_seq_length``. DDIM/DPM
schedulers as shipped, 50 steps, guidance 6.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..spec import FrameRule, GenerationParams, ModelSpec, SizeRule
from .common import DiffusersFamily, Rules, read_config

if TYPE_CHECKING:
    from ..catalog import CatalogEntry

RULES = Rules(
    frames=FrameRule(multiple=8, offset=1, min_frames=9, max_frames=81),
    sizes=SizeRule(default=(720, 480), multiple=16, min_side=256, max_side=1360),
    fps=8,
    default_seconds=6.0,
    default_steps=50,
    default_guidance=6.0,
    price_per_second=12.0,
    quality=0.6,
)
TINY = Rules(
    frames=FrameRule(multiple=8, offset=1, min_frames=9, max_frames=17),
    sizes=SizeRule(default=(32, 32), multiple=16, min_side=16, max_side=128),
    fps=8,
    default_seconds=1.0,
    default_steps=2,
    default_guidance=6.0,
    price_per_second=1.0,
    quality=0.05,
)


class CogVideoXFamily(DiffusersFamily):
    name = "cogvideox"
    description = "CogVideoX (THUDM)"
    rules = RULES
    tiny_rules = TINY
    pipelines = {"t2v": "CogVideoXPipeline", "i2v": "CogVideoXImageToVideoPipeline"}
    shared_modes = False
    tiny_modes = frozenset({"t2v"})

    def spec(self, entry: CatalogEntry) -> ModelSpec:
        config = read_config(entry, "transformer", "config.json") or {}
        spec = self.capped_frames(super().spec(entry), entry, config.get("sample_frames"))
        if config.get("use_learned_positional_embeddings") and entry.sizes is None:
            native = (int(config["sample_width"]) * 8, int(config["sample_height"]) * 8)
            spec = spec.with_overrides(sizes=SizeRule(default=native, multiple=16, allowed=(native,)))
        return spec

    def extra_kwargs(self, pipe: Any, params: GenerationParams) -> dict[str, Any]:
        # A property of the checkpoint (226 in the released models), never a constant here.
        return {"max_sequence_length": int(pipe.transformer.config.max_text_seq_length)}
