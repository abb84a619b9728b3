"""The shipped tiny Wan model: built offline, loaded from disk like real weights, deterministic."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest

from local_models import (
    BUILTIN_ENTRIES,
    GenerationCancelled,
    VideoRequest,
    WeightsNotFound,
    get_family,
    load_entry,
    materialize,
    resolve,
    run_pipeline,
)
from local_models.catalog import CatalogEntry

ENTRY = next(e for e in BUILTIN_ENTRIES if e.id == "wan-tiny")


def test_materialize_writes_a_diffusers_folder(models_dir: Path) -> None:
    path = materialize(ENTRY, models_dir)
    index = json.loads((path / "model_index.json").read_text())
    assert index["_class_name"] == "WanPipeline"
    assert (path / "tokenizer").is_dir() and (path / "transformer").is_dir()


def test_runs_deterministically_with_progress(models_dir: Path) -> None:
    loaded = load_entry(ENTRY, "t2v", models_dir, device="cpu")
    spec = get_family("wan").spec(ENTRY)
    params = resolve(spec, VideoRequest(mode="t2v", seconds=0.5, size=(48, 32), seed=11, steps=3))
    steps: list[tuple[int, int]] = []
    never = threading.Event()
    a = run_pipeline(
        loaded, "wan", params, "a red circle", None, lambda d, t: steps.append((d, t)), never
    ).frames
    b = run_pipeline(loaded, "wan", params, "a red circle", None, lambda d, t: None, never).frames
    assert a.shape == (params.frames, 32, 48, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert steps == [(1, 3), (2, 3), (3, 3)]
    other = run_pipeline(
        loaded,
        "wan",
        params.__class__(**{**params.as_dict(), "seed": 12}),
        "a red circle",
        None,
        lambda d, t: None,
        never,
    ).frames
    assert not np.array_equal(a, other)


def test_cancel_stops_the_run(models_dir: Path) -> None:
    loaded = load_entry(ENTRY, "t2v", models_dir, device="cpu")
    params = resolve(get_family("wan").spec(ENTRY), VideoRequest(mode="t2v", seed=1, steps=5))
    cancel = threading.Event()

    def progress(done: int, total: int) -> None:
        if done == 2:
            cancel.set()

    with pytest.raises(GenerationCancelled):
        run_pipeline(loaded, "wan", params, "p", None, progress, cancel)


def test_missing_weights_are_a_clear_error(tmp_path: Path) -> None:
    entry = CatalogEntry(id="wan-big", family="wan", weights=str(tmp_path / "nowhere"))
    with pytest.raises(WeightsNotFound) as err:
        load_entry(entry, "t2v", tmp_path, device="cpu")
    assert "nowhere" in err.value.message and "never downloads" in err.value.message
