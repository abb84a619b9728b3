"""Speed features are opt-in per catalog entry, validated at start-up, and really change the run."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from local_models import LocalModelError, VideoRequest, get_family, load_entry, resolve, run_pipeline
from local_models.catalog import CatalogEntry
from local_models.speed import calibrate_magcache, parse_speed_options

from ..support import FAKE_CONFIG, make_settings, running_gateway


def _run(entry: CatalogEntry, models_dir: Path, steps: int = 8) -> np.ndarray:
    loaded = load_entry(entry, "t2v", models_dir, device="cpu")
    params = resolve(
        get_family(entry.family).spec(entry),
        VideoRequest(mode="t2v", seed=3, steps=steps, size=(32, 32), frames=5),
    )
    runs = [
        run_pipeline(
            loaded, entry.family, params, "a red circle", None, lambda d, t: None, threading.Event()
        ).frames
        for _ in range(2)
    ]
    assert np.array_equal(*runs), "a cached run must still be reproducible (cache state resets per run)"
    return runs[0]


def test_step_caches_skip_work_and_stay_deterministic(tiny_paths: dict[str, Path], models_dir: Path) -> None:
    weights = str(tiny_paths["wan21-tiny"])
    plain = CatalogEntry(id="wan", family="wan", weights=weights)
    base = _run(plain, models_dir)

    loaded = load_entry(plain, "t2v", models_dir, device="cpu")
    params = resolve(
        get_family("wan").spec(plain), VideoRequest(mode="t2v", seed=3, steps=8, size=(32, 32), frames=5)
    )
    ratios = calibrate_magcache(
        loaded.pipe,
        lambda: run_pipeline(
            loaded, "wan", params, "a red circle", None, lambda d, t: None, threading.Event()
        ),
        8,
    )
    assert len(ratios) == 8 and ratios[0] == 1.0

    for options in (
        {"cache": "first_block", "cache_threshold": 0.9},
        {"cache": "taylorseer", "cache_interval": 3, "cache_identifiers": [r"^blocks\.\d+\.attn1$"]},
        {"cache": "taylorseer"},  # lite mode
        {"cache": "magcache", "mag_ratios": ratios, "cache_threshold": 0.5},
    ):
        cached = _run(CatalogEntry(id="wan", family="wan", weights=weights, options=options), models_dir)
        assert cached.shape == base.shape
        assert not np.array_equal(cached, base), f"{options['cache']} changed nothing: was it applied?"


def test_vae_tiling_slicing_and_attention_backend_keep_the_clip(
    tiny_paths: dict[str, Path], models_dir: Path
) -> None:
    weights = str(tiny_paths["wan21-tiny"])
    base = _run(CatalogEntry(id="wan", family="wan", weights=weights), models_dir, steps=2)
    options = {"vae_tiling": True, "vae_slicing": True, "attention_backend": "native"}
    tuned = _run(CatalogEntry(id="wan", family="wan", weights=weights, options=options), models_dir, steps=2)
    assert np.abs(tuned.astype(int) - base).max() <= 2


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"cache": "teacache"}, "cache"),
        ({"cache": "magcache"}, "mag_ratios"),
        ({"vae_tiles": True}, "vae_tiles"),
        ({"cache_threshold": 2}, "cache_threshold"),
    ],
)
def test_bad_options_are_refused(options: dict[str, object], message: str) -> None:
    from local_models.speed import cache_config

    with pytest.raises(LocalModelError) as err:
        cache_config(parse_speed_options(options), object())
    assert err.value.code == "invalid_config" and message in err.value.message


def test_faster_cache_is_refused_on_wan(tiny_paths: dict[str, Path], models_dir: Path) -> None:
    entry = CatalogEntry(
        id="wan", family="wan", weights=str(tiny_paths["wan21-tiny"]), options={"cache": "faster"}
    )
    with pytest.raises(LocalModelError, match="FasterCache does not work with WanTransformer3DModel"):
        load_entry(entry, "t2v", models_dir, device="cpu")


async def test_gateway_refuses_to_start_with_bad_options(tmp_path: Path, models_dir: Path) -> None:
    entry = 'id = "w"\nfamily = "wan"\nweights = "builtin:wan-tiny"\noptions = { cache = "warp" }\n'
    config = FAKE_CONFIG + "\n[[models]]\n" + entry
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", models_dir, config=config)
    with pytest.raises(LocalModelError, match="model 'w'"):
        async with running_gateway(settings):
            pass
