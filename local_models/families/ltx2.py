"""LTX-2 (``LTX2Pipeline``, ``LTX2ImageToVideoPipeline``): video with a synchronized audio track.

Rules: frames ``8k+1`` (8x temporal VAE), width and height multiples of 32, 24 fps (8 to 60,
passed to the model as ``frame_rate``, which times the audio too), 40 steps, guidance 4. The
model generates sound with the picture; the request's ``audio`` (default on) keeps it as an AAC
track muxed in sync, or drops it. One checkpoint serves t2v and i2v.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..spec import FrameRule, GenerationParams, SizeRule
from .common import DiffusersFamily, Rules, text_length

RULES = Rules(
    frames=FrameRule(multiple=8, offset=1, min_frames=9, max_frames=257),
    sizes=SizeRule(default=(768, 512), multiple=32, min_side=256, max_side=1920),
    fps=24,
    fps_range=(8, 60),
    default_seconds=5.0,
    default_steps=40,
    default_guidance=4.0,
    price_per_second=16.0,
    quality=0.85,
    audio=True,
)
TINY = Rules(
    frames=FrameRule(multiple=8, offset=1, min_frames=9, max_frames=33),
    sizes=SizeRule(default=(32, 32), multiple=32, min_side=32, max_side=128),
    fps=24,
    fps_range=(8, 60),
    default_seconds=0.4,
    default_steps=2,
    default_guidance=1.0,
    price_per_second=1.0,
    quality=0.05,
    audio=True,
)


class LTX2Family(DiffusersFamily):
    name = "ltx2"
    description = "LTX-2 (Lightricks), video with synchronized audio"
    rules = RULES
    tiny_rules = TINY
    pipelines = {"t2v": "LTX2Pipeline", "i2v": "LTX2ImageToVideoPipeline"}
    shared_modes = True

    def extra_kwargs(self, pipe: Any, params: GenerationParams) -> dict[str, Any]:
        return {
            "frame_rate": float(params.fps),
            "max_sequence_length": text_length(pipe.tokenizer, 1024),
        }

    def sample_rate(self, pipe: Any) -> int | None:
        return int(pipe.vocoder.config.output_sampling_rate)

    def build_tiny(self, path: Path, *, seed: int = 0) -> None:
        import torch
        from diffusers import (
            AutoencoderKLLTX2Audio,
            AutoencoderKLLTX2Video,
            FlowMatchEulerDiscreteScheduler,
            LTX2Pipeline,
            LTX2VideoTransformer3DModel,
        )
        from diffusers.pipelines.ltx2 import LTX2TextConnectors
        from diffusers.pipelines.ltx2.vocoder import LTX2Vocoder
        from transformers import (
            Gemma3Config,
            Gemma3ForConditionalGeneration,
            Gemma3TextConfig,
            SiglipVisionConfig,
        )

        from ..tokenizers import tiny_gemma_tokenizer

        tokenizer = tiny_gemma_tokenizer(model_max_length=32)
        text_config = Gemma3TextConfig(
            vocab_size=len(tokenizer) + 8,
            hidden_size=32,  # the connectors' width (4 heads x 8) must equal the text width
            intermediate_size=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=1,
            head_dim=8,
            sliding_window=16,
            pad_token_id=0,
            eos_token_id=1,
            bos_token_id=2,
        )
        vision_config = SiglipVisionConfig(
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            image_size=32,
            patch_size=8,
        )
        torch.manual_seed(seed)
        text_encoder = Gemma3ForConditionalGeneration(
            Gemma3Config(
                text_config=text_config,
                vision_config=vision_config,
                mm_tokens_per_image=4,
                image_token_index=len(tokenizer) + 1,
                boi_token_index=len(tokenizer) + 2,
                eoi_token_index=len(tokenizer) + 3,
            )
        )
        hidden = text_config.hidden_size
        torch.manual_seed(seed)
        transformer = LTX2VideoTransformer3DModel(
            in_channels=4,
            out_channels=4,
            patch_size=1,
            patch_size_t=1,
            num_attention_heads=2,
            attention_head_dim=8,
            cross_attention_dim=16,
            audio_in_channels=4,
            audio_out_channels=4,
            audio_num_attention_heads=2,
            audio_attention_head_dim=4,
            audio_cross_attention_dim=8,
            num_layers=2,
            qk_norm="rms_norm_across_heads",
            caption_channels=hidden,
            rope_double_precision=False,
            rope_type="split",
        )
        torch.manual_seed(seed)
        connectors = LTX2TextConnectors(
            caption_channels=hidden,
            text_proj_in_factor=text_config.num_hidden_layers + 1,
            video_connector_num_attention_heads=4,
            video_connector_attention_head_dim=8,
            video_connector_num_layers=1,
            video_connector_num_learnable_registers=None,
            audio_connector_num_attention_heads=4,
            audio_connector_attention_head_dim=8,
            audio_connector_num_layers=1,
            audio_connector_num_learnable_registers=None,
            connector_rope_base_seq_len=32,
            rope_theta=10000.0,
            rope_double_precision=False,
            causal_temporal_positioning=False,
            rope_type="split",
        )
        torch.manual_seed(seed)
        vae = AutoencoderKLLTX2Video(
            in_channels=3,
            out_channels=3,
            latent_channels=4,
            block_out_channels=(8,),
            decoder_block_out_channels=(8,),
            layers_per_block=(1,),
            decoder_layers_per_block=(1, 1),
            spatio_temporal_scaling=(True,),
            decoder_spatio_temporal_scaling=(True,),
            decoder_inject_noise=(False, False),
            downsample_type=("spatial",),
            upsample_residual=(False,),
            upsample_factor=(1,),
            timestep_conditioning=False,
            patch_size=1,
            patch_size_t=1,
            encoder_causal=True,
            decoder_causal=False,
        )
        torch.manual_seed(seed)
        audio_vae = AutoencoderKLLTX2Audio(
            base_channels=4,
            output_channels=2,
            ch_mult=(1,),
            num_res_blocks=1,
            attn_resolutions=None,
            in_channels=2,
            resolution=32,
            latent_channels=2,
            norm_type="pixel",
            causality_axis="height",
            dropout=0.0,
            mid_block_add_attention=False,
            sample_rate=16000,
            mel_hop_length=160,
            is_causal=True,
            mel_bins=8,
        )
        torch.manual_seed(seed)
        vocoder = LTX2Vocoder(
            in_channels=2 * 8,  # the audio VAE's output channels x mel bins
            hidden_channels=32,
            out_channels=2,
            upsample_kernel_sizes=[4, 4],
            upsample_factors=[2, 2],
            resnet_kernel_sizes=[3],
            resnet_dilations=[[1, 3, 5]],
            leaky_relu_negative_slope=0.1,
            output_sampling_rate=16000,
        )
        pipe = LTX2Pipeline(
            scheduler=FlowMatchEulerDiscreteScheduler(),
            vae=vae,
            audio_vae=audio_vae,
            text_encoder=text_encoder,
            tokenizer=tokenizer,
            connectors=connectors,
            transformer=transformer,
            vocoder=vocoder,
        )
        self.save_tiny(pipe, path)
