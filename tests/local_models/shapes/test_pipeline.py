"""ShapesPipeline mechanics on untrained weights: save/load, seeds, chaining, upsampling, progress."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from local_models.shapes.pipeline import ShapesPipeline
from local_models.shapes.text import ShapesTextEncoder, build_tokenizer, concept_table, token_concepts
from local_models.shapes.upsampler import ShapesUpsampler
from tools.shapes.train import build_pipeline, save
from tools.shapes.upsampler_train import attach


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("shapes") / "pipe"
    build_pipeline("shapes-fast", seed=3).save_pretrained(path)
    return path


def test_text_encoder_ignores_order_and_filler() -> None:
    tok = build_tokenizer()
    enc = ShapesTextEncoder(token_concepts(tok), concept_table())
    ids = tok(
        [
            "a red circle moving left on a black background",
            "on black background, moving left: the circle, red, my friend",
        ],
        padding="max_length",
        max_length=32,
        return_tensors="pt",
    ).input_ids
    out = enc(ids)
    assert torch.equal(out[0], out[1])


def test_roundtrip_and_determinism(saved: Path) -> None:
    pipe = ShapesPipeline.from_pretrained(saved)
    a = pipe(
        "a red circle moving left", num_inference_steps=3, generator=torch.Generator().manual_seed(5)
    ).frames
    b = pipe(
        "a red circle moving left", num_inference_steps=3, generator=torch.Generator().manual_seed(5)
    ).frames
    c = pipe(
        "a red circle moving left", num_inference_steps=3, generator=torch.Generator().manual_seed(6)
    ).frames
    assert a.shape == (1, 8, 32, 32, 3)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_chained_frames_upsampling_and_progress(saved: Path) -> None:
    pipe = ShapesPipeline.from_pretrained(saved)
    steps: list[int] = []
    out = pipe(
        "a blue square",
        num_frames=22,
        height=128,
        width=128,
        num_inference_steps=2,
        callback_on_step_end=lambda p, i, t, kw: steps.append(i) or kw,
    ).frames
    assert out.shape == (1, 22, 128, 128, 3)
    assert steps == list(range(6))
    with pytest.raises(ValueError):
        pipe("x", num_frames=10)


def test_image_conditioning_changes_the_output(saved: Path) -> None:
    pipe = ShapesPipeline.from_pretrained(saved)
    torch.manual_seed(0)
    torch.nn.init.normal_(pipe.denoiser.out.weight, std=0.1)  # untrained output layers start at zero
    gen = lambda: torch.Generator().manual_seed(1)  # noqa: E731
    plain = pipe("a red circle", num_inference_steps=2, generator=gen()).frames
    image = Image.new("RGB", (64, 48), (255, 0, 0))
    with_image = pipe("a red circle", image=image, num_inference_steps=2, generator=gen()).frames
    assert not np.array_equal(plain, with_image)


def test_upsampler_is_an_optional_component(tmp_path: Path) -> None:
    """Attached, it loads with the pipeline and decodes every size above 32; retraining the
    denoiser keeps it; without it the pipeline upsamples bicubically (``saved`` has none)."""
    pipe = build_pipeline("shapes-fast", seed=3)
    pipe.save_pretrained(tmp_path)
    net = ShapesUpsampler()
    torch.manual_seed(0)
    torch.nn.init.normal_(net.out.weight, std=0.05)  # an untrained one adds nothing
    attach(net, tmp_path)
    save(pipe, tmp_path, {"steps": 0})  # as a retrained denoiser is saved over it
    loaded = ShapesPipeline.from_pretrained(tmp_path)
    assert isinstance(loaded.upsampler, ShapesUpsampler)
    assert loaded.upsampler.out.weight.dtype == torch.float32
    gen = lambda: torch.Generator().manual_seed(2)  # noqa: E731
    learned = loaded("a red circle", height=128, width=128, num_inference_steps=1, generator=gen()).frames
    loaded.upsampler = None
    plain = loaded("a red circle", height=128, width=128, num_inference_steps=1, generator=gen()).frames
    assert learned.shape == plain.shape == (1, 8, 128, 128, 3)
    assert not np.allclose(learned, plain)
