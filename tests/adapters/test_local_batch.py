"""A batch of real pipelines makes, for each job, the clip that job gets alone (same prompt and seed),
within the arithmetic of batched kernels and the MP4 encoder; a cancelled job leaves nothing."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from adapters import Cancelled, GenerationRequest, LocalAdapter
from local_models import Catalog, VideoRequest, resolve
from local_models.video import read_frames

PROMPTS = [
    ("a red circle moving right", 3),
    ("a blue square moving up", 11),
    ("a green triangle moving left", 5),
]


def _requests(adapter: LocalAdapter, model: str, out: Path) -> list[GenerationRequest]:
    spec = next(s for s in adapter.models() if s.id == model)
    return [
        GenerationRequest(f"video_{i}", model, prompt, resolve(spec, VideoRequest(seed=seed)), out / str(i))
        for i, (prompt, seed) in enumerate(PROMPTS)
    ]


@pytest.mark.parametrize("model", ["wan-tiny", "shapes-fast"])
def test_each_batched_clip_is_the_clip_its_job_gets_alone(
    tmp_path: Path, models_dir: Path, model: str
) -> None:
    adapter = LocalAdapter(Catalog.from_config(), models_dir, device="cpu", max_batch=3)
    assert adapter.batch_limit(model) == 3
    requests = _requests(adapter, model, tmp_path / "batch")
    progress: list[list[float]] = [[] for _ in requests]
    batched = adapter.generate_batch(
        requests, [p.append for p in progress], [threading.Event() for _ in requests]
    )
    assert all(p[-1] == 1.0 for p in progress)  # each job saw its own progress to the end
    clips = []
    for request, artifact in zip(requests, batched, strict=True):
        assert artifact is not None and artifact.metadata["batch"] == 3
        alone = adapter.generate(
            GenerationRequest(
                request.job_id, model, request.prompt, request.params, tmp_path / "alone" / request.job_id
            ),
            lambda f: None,
            threading.Event(),
        )
        a, _ = read_frames(artifact.video_path)
        b, _ = read_frames(alone.video_path)
        diff = np.abs(a.astype(np.int16) - b.astype(np.int16))
        assert a.shape == b.shape and float(diff.mean()) < 0.5, (request.job_id, float(diff.mean()))
        clips.append(a)
    assert not np.array_equal(clips[0], clips[1])  # different prompts and seeds: different clips


def test_a_cancelled_job_gets_nothing_and_the_others_their_clips(tmp_path: Path, models_dir: Path) -> None:
    adapter = LocalAdapter(Catalog.from_config(), models_dir, device="cpu", max_batch=3)
    requests = _requests(adapter, "wan-tiny", tmp_path)
    cancels = [threading.Event() for _ in requests]
    cancels[1].set()
    out = adapter.generate_batch(requests, [lambda f: None] * 3, cancels)
    assert out[1] is None and not (tmp_path / "1").exists()
    assert out[0] is not None and out[2] is not None
    for c in cancels:
        c.set()
    with pytest.raises(Cancelled):
        adapter.generate_batch(requests, [lambda f: None] * 3, cancels)


def test_batching_is_off_on_a_cpu_by_default(models_dir: Path) -> None:
    adapter = LocalAdapter(Catalog.from_config(), models_dir, device="cpu")
    assert adapter.batch_limit("wan-tiny") == 1
