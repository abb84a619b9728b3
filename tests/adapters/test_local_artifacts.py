"""What a local generation hands back, and how the backend holds its models: the clip's files and
facts, the run's metadata, images for image-to-video, audio, and residency under a count or a budget."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from adapters import Cancelled, GenerationRequest, LocalAdapter, PermanentError
from local_models import Catalog, LoadedPipeline, VideoRequest, resolve
from local_models.video import probe, read_frames

from ..fixtures.tiny_models import build_tiny


def _request(adapter: LocalAdapter, model: str, out: Path, **fields: object) -> GenerationRequest:
    spec = next(s for s in adapter.models() if s.id == model)
    params = resolve(spec, VideoRequest(**{"mode": "t2v", "seed": 3, **fields}))  # type: ignore[arg-type]
    return GenerationRequest(f"video_{model}", model, "a red circle moving right", params, out)


def test_the_artifact_describes_the_clip_it_wrote(tmp_path: Path, models_dir: Path) -> None:
    catalog = Catalog.from_config(
        [{"id": "wan-studio", "family": "wan", "weights": "builtin:wan-tiny", "backend": "studio-gpu"}],
        builtins=False,
    )
    adapter = LocalAdapter(catalog, models_dir, name="studio-gpu", device="cpu")
    assert [s.id for s in adapter.models()] == ["wan-studio"]
    assert adapter.health().ok is True and adapter.health().warm_models == []
    out = tmp_path / "deep" / "nested" / "out"  # made on demand, parents and all
    request = _request(adapter, "wan-studio", out, seconds=0.5, steps=2)
    artifact = adapter.generate(request, lambda f: None, threading.Event())
    p = request.params
    assert artifact.video_path == out / "video.mp4"
    assert (artifact.width, artifact.height, artifact.frames, artifact.fps) == (64, 64, p.frames, p.fps)
    info = probe(artifact.video_path)
    assert (info.width, info.height) == (64, 64) and round(info.fps) == p.fps and info.audio_codec is None
    assert read_frames(artifact.video_path)[0].shape[0] == p.frames
    assert artifact.thumbnail_path == out / "thumbnail.webp"
    assert artifact.thumbnail_path.read_bytes()[8:12] == b"WEBP"
    assert artifact.spritesheet_path == out / "spritesheet.jpg"
    assert artifact.spritesheet_path.read_bytes()[:3] == b"\xff\xd8\xff"
    assert artifact.has_audio is False
    meta = artifact.metadata
    assert {k: meta[k] for k in ("backend", "device", "family", "loaded_now")} == {
        "backend": "studio-gpu",
        "device": "cpu",
        "family": "wan",
        "loaded_now": True,
    }
    assert isinstance(meta["load_seconds"], float) and meta["load_seconds"] > 0
    assert meta["load_seconds"] == round(meta["load_seconds"], 4)
    again = adapter.generate(request, lambda f: None, threading.Event())
    assert again.metadata["loaded_now"] is False and again.metadata["load_seconds"] == meta["load_seconds"]
    assert adapter.health().warm_models == ["wan-studio"]


def test_image_to_video_starts_from_the_image_and_notes_the_upsample(
    tmp_path: Path, models_dir: Path
) -> None:
    adapter = LocalAdapter(Catalog.from_config(), models_dir, device="cpu")
    spec = next(s for s in adapter.models() if s.id == "shapes-fast")
    params = resolve(spec, VideoRequest(mode="i2v", seed=5, size=(64, 64)))
    centres = {}
    for name, colour in (("red", (220, 30, 30)), ("blue", (30, 30, 220))):
        picture = Image.new("RGB", (64, 64), (128, 128, 128))
        ImageDraw.Draw(picture).ellipse((16, 16, 48, 48), fill=colour)
        image = tmp_path / f"{name}.png"
        picture.convert("P").save(image)  # a palette image: the adapter hands the pipeline plain RGB
        request = GenerationRequest(
            f"video_{name}", "shapes-fast", "a circle", params, tmp_path / name, image
        )
        artifact = adapter.generate(request, lambda f: None, threading.Event())
        assert artifact.metadata["family"] == "shapes"
        assert artifact.metadata["upsampled_from"] == "32x32"  # the family's note on what it ran
        frames, _ = read_frames(artifact.video_path)
        assert frames.shape[1:3] == (64, 64)
        centres[name] = frames[0][32, 32].astype(int)
    red, blue = centres["red"], centres["blue"]
    assert red[0] > red[2] + 60 and blue[2] > blue[0] + 60  # the clip opens on the image it was given


@pytest.fixture(scope="module")
def ltx2_tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ltx2") / "ltx2-tiny"
    build_tiny("ltx2", path)
    return path


def test_a_clip_with_sound_carries_it(tmp_path: Path, models_dir: Path, ltx2_tiny: Path) -> None:
    catalog = Catalog.from_config([{"id": "ltx2-tiny", "family": "ltx2", "weights": str(ltx2_tiny)}])
    adapter = LocalAdapter(catalog, models_dir, device="cpu")
    request = _request(adapter, "ltx2-tiny", tmp_path / "out", size=(64, 32), steps=2, audio=True)
    artifact = adapter.generate(request, lambda f: None, threading.Event())
    assert artifact.has_audio is True
    info = probe(artifact.video_path)
    assert info.audio_codec == "aac"
    assert round(info.fps) == request.params.fps


def test_failures_say_what_went_wrong(tmp_path: Path, models_dir: Path) -> None:
    catalog = Catalog.from_config([{"id": "ghost", "family": "wan", "weights": str(tmp_path / "none")}])
    adapter = LocalAdapter(catalog, models_dir, device="cpu")
    with pytest.raises(PermanentError) as missing:
        adapter.generate(_request(adapter, "ghost", tmp_path), lambda f: None, threading.Event())
    assert missing.value.code == "weights_not_found" and str(tmp_path / "none") in missing.value.message
    with pytest.raises(PermanentError) as unknown:
        request = _request(adapter, "wan-tiny", tmp_path)
        adapter.generate(
            GenerationRequest("v", "not-here", "p", request.params, tmp_path),
            lambda f: None,
            threading.Event(),
        )
    assert unknown.value.code == "model_not_served" and "not-here" in unknown.value.message
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled) as stopped:
        adapter.generate(_request(adapter, "wan-tiny", tmp_path), lambda f: None, cancel)
    assert "cancel" in str(stopped.value).lower()


def test_bad_speed_options_are_refused_when_the_backend_starts(models_dir: Path) -> None:
    catalog = Catalog.from_config(
        [{"id": "w", "family": "wan", "weights": "builtin:wan-tiny", "options": {"attention": "warp-drive"}}]
    )
    with pytest.raises(Exception) as refused:
        LocalAdapter(catalog, models_dir, device="cpu")
    assert "model 'w'" in str(refused.value)
    assert getattr(refused.value, "code", None) not in (None, "model_error")  # the speed option's own code


def _resident_log(
    adapter_kw: dict[str, object], models: tuple[str, ...], models_dir: Path, tmp_path: Path
) -> tuple[list[str], LocalAdapter]:
    log: list[str] = []

    def loaded(p: LoadedPipeline) -> None:
        log.append(f"load {p.model_id}")

    adapter = LocalAdapter(
        Catalog.from_config(),
        models_dir,
        device="cpu",
        on_load=loaded,
        on_evict=lambda model: log.append(f"evict {model}"),
        **adapter_kw,  # type: ignore[arg-type]
    )
    for model in models:
        adapter.generate(
            _request(adapter, model, tmp_path / model, steps=1), lambda f: None, threading.Event()
        )
    return log, adapter


def test_a_count_limit_of_one_swaps_models(tmp_path: Path, models_dir: Path) -> None:
    log, adapter = _resident_log({"max_loaded": 1}, ("shapes-fast", "shapes-hq"), models_dir, tmp_path)
    assert log == ["load shapes-fast", "evict shapes-fast", "load shapes-hq"]
    assert adapter.resident_count() == 1


def test_two_models_stay_loaded_by_default(tmp_path: Path, models_dir: Path) -> None:
    log, adapter = _resident_log({}, ("wan-tiny", "shapes-fast", "shapes-hq"), models_dir, tmp_path)
    assert log == ["load wan-tiny", "load shapes-fast", "evict wan-tiny", "load shapes-hq"]
    assert adapter.resident_count() == 2 and adapter.resident_bytes() > 0
    adapter.close()
    assert adapter.resident_count() == 0 and adapter.health().warm_models == []


def test_a_memory_budget_makes_room_before_each_load(tmp_path: Path, models_dir: Path) -> None:
    """Under a budget that holds either shapes model but not both, each load first evicts what would
    not fit (by the model's estimate, before loading it), whatever the count limit allows."""
    budget_gb = 10e6 / 1024**3  # shapes-fast is ~5.4 MB, shapes-hq ~8.4 MB
    models = ("shapes-fast", "shapes-hq", "shapes-fast")
    log, adapter = _resident_log({"memory_gb": budget_gb, "max_loaded": 3}, models, models_dir, tmp_path)
    assert log == [
        "load shapes-fast",
        "evict shapes-fast",
        "load shapes-hq",
        "evict shapes-hq",
        "load shapes-fast",
    ]
    assert adapter.resident_count() == 1 and adapter.resident_bytes() > 0
