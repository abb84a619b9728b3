"""LocalAdapter runs the catalog's diffusers pipelines and translates their errors at its boundary."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from adapters import Adapter, Artifact, Cancelled, GenerationRequest, LocalAdapter, PermanentError
from local_models import Catalog, LoadedPipeline, VideoRequest, resolve
from local_models.video import probe, read_frames


def test_serves_wan_tiny(tmp_path: Path, models_dir: Path) -> None:
    loads: list[LoadedPipeline] = []
    adapter = LocalAdapter(Catalog.from_config(), models_dir, device="cpu", on_load=loads.append)
    assert isinstance(adapter, Adapter)
    spec = next(s for s in adapter.models() if s.id == "wan-tiny")
    params = resolve(spec, VideoRequest(mode="t2v", seed=4, seconds=0.5))
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
    params = resolve(spec, VideoRequest(mode="t2v", seed=1))
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
            GenerationRequest(
                "v", "wan-tiny", "p", resolve(tiny, VideoRequest(mode="t2v", seed=1)), tmp_path
            ),
            lambda f: None,
            cancel,
        )


def test_one_generation_per_device_at_a_time(tmp_path: Path, models_dir: Path) -> None:
    """Two jobs submitted at once to one backend run one after the other on its device, and both finish.

    Each job's denoising steps report progress from inside the pipeline: a job is on the device from
    its first step to its last. The first job to step waits (up to a generous bound) for the other
    to step too, so that without the device lock the two would certainly be seen running together.
    """
    adapter = LocalAdapter(Catalog.from_config(), models_dir, device="cpu")
    spec = next(s for s in adapter.models() if s.id == "wan-tiny")
    params = resolve(spec, VideoRequest(mode="t2v", seed=4, seconds=0.5, steps=3))
    guard = threading.Lock()
    on_device: set[str] = set()
    most_at_once = 0
    stepped = {name: threading.Event() for name in ("a", "b")}

    def progress_of(name: str):  # type: ignore[no-untyped-def]
        other = "b" if name == "a" else "a"

        def progress(fraction: float) -> None:
            nonlocal most_at_once
            first = not stepped[name].is_set()
            with guard:
                on_device.add(name)
                most_at_once = max(most_at_once, len(on_device))
            stepped[name].set()
            if first:
                stepped[other].wait(timeout=3)  # give an overlapping job every chance to show itself
            if fraction >= 1.0:
                with guard:
                    on_device.discard(name)

        return progress

    artifacts: dict[str, Artifact] = {}
    errors: list[BaseException] = []

    def run(name: str) -> None:
        request = GenerationRequest(f"video_{name}", "wan-tiny", "a red circle", params, tmp_path / name)
        try:
            artifacts[name] = adapter.generate(request, progress_of(name), threading.Event())
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(name,)) for name in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert most_at_once == 1, "two generations ran on one device at the same time"
    assert not errors, errors
    assert sorted(artifacts) == ["a", "b"], "both jobs complete"
    for artifact in artifacts.values():
        assert read_frames(artifact.video_path)[0].shape == (params.frames, 64, 64, 3)
