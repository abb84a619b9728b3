"""LocalAdapter runs the catalog's diffusers pipelines and translates their errors at its boundary."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from adapters import Adapter, Cancelled, GenerationRequest, LocalAdapter, PermanentError
from local_models import Catalog, resolve
from local_models.video import probe, read_frames


def test_serves_wan_tiny(tmp_path: Path, models_dir: Path) -> None:
    loads = []
    adapter = LocalAdapter(Catalog.from_config(), models_dir, device="cpu", on_load=loads.append)
    assert isinstance(adapter, Adapter)
    spec = next(s for s in adapter.models() if s.id == "wan-tiny")
    params = resolve(spec, mode="t2v", seed=4, seconds=0.5)
    request = GenerationRequest("video_1", "wan-tiny", "a red circle", params, tmp_path / "out")
    progress: list[float] = []
    artifact = adapter.generate(request, progress.append, threading.Event())
    assert progress[-1] == 1.0 and len(progress) == params.steps
    assert probe(artifact.video_path).video_codec == "h264"
    frames, _ = read_frames(artifact.video_path)
    assert frames.shape == (params.frames, 64, 64, 3)
    assert [loaded.model_id for loaded in loads] == ["wan-tiny"]
    adapter.generate(request, lambda f: None, threading.Event())
    assert len(loads) == 1, "a warm pipeline is reused"
    assert adapter.health().warm_models == ["wan-tiny"]


def test_errors_are_translated(tmp_path: Path, models_dir: Path) -> None:
    catalog = Catalog.from_config([{"id": "ghost", "family": "wan", "weights": str(tmp_path / "none")}])
    adapter = LocalAdapter(catalog, models_dir, device="cpu")
    spec = next(s for s in adapter.models() if s.id == "ghost")
    params = resolve(spec, mode="t2v", seed=1)
    with pytest.raises(PermanentError) as err:
        adapter.generate(
            GenerationRequest("v", "ghost", "p", params, tmp_path), lambda f: None, threading.Event()
        )
    assert err.value.code == "weights_not_found"
    cancel = threading.Event()
    cancel.set()
    tiny = next(s for s in adapter.models() if s.id == "wan-tiny")
    with pytest.raises(Cancelled):
        adapter.generate(
            GenerationRequest("v", "wan-tiny", "p", resolve(tiny, mode="t2v", seed=1), tmp_path),
            lambda f: None,
            cancel,
        )
