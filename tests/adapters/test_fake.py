"""The FakeAdapter honours the Adapter contract: frames, progress, cancel, injected faults."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from adapters import (
    Adapter,
    Cancelled,
    FakeAdapter,
    FakeBehaviour,
    GenerationRequest,
    PermanentError,
    TransientError,
    fake_model_spec,
)
from local_models import VideoRequest, resolve
from local_models.video import read_frames


def _request(tmp_path: Path, **kw) -> GenerationRequest:  # type: ignore[no-untyped-def]
    params = resolve(fake_model_spec(), VideoRequest(mode="t2v", seed=1, size=(32, 16), seconds=1, steps=4))
    return GenerationRequest("video_x", "fake-video", "p", params, tmp_path / "out", **kw)


def test_is_an_adapter() -> None:
    assert isinstance(FakeAdapter(), Adapter)


def test_generates_frames_with_progress(tmp_path: Path) -> None:
    seen: list[float] = []
    artifact = FakeAdapter().generate(_request(tmp_path), seen.append, threading.Event())
    assert seen == [0.25, 0.5, 0.75, 1.0]
    frames, fps = read_frames(artifact.video_path)
    assert frames.shape == (8, 16, 32, 3) and fps == 8
    assert artifact.thumbnail_path and artifact.thumbnail_path.is_file()


def test_faults(tmp_path: Path) -> None:
    flaky = FakeAdapter(behaviour=FakeBehaviour(fail="transient", fail_times=1))
    with pytest.raises(TransientError):
        flaky.generate(_request(tmp_path), lambda f: None, threading.Event())
    flaky.generate(_request(tmp_path), lambda f: None, threading.Event())
    with pytest.raises(PermanentError):
        FakeAdapter(behaviour=FakeBehaviour(fail="permanent")).generate(
            _request(tmp_path), lambda f: None, threading.Event()
        )


def test_cancel(tmp_path: Path) -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        FakeAdapter(behaviour=FakeBehaviour(hang=True)).generate(_request(tmp_path), lambda f: None, cancel)
