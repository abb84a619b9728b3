"""Weights load from a local folder or the local Hugging Face cache, never the network, with clear errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from local_models import WeightsNotFound, get_family, load_entry
from local_models.catalog import CatalogEntry


def test_a_model_in_the_local_hugging_face_cache_loads_offline(
    tiny_paths: dict[str, Path], models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub.constants

    cache = tmp_path / "hub"
    snapshot = cache / "models--acme--mochi-tiny" / "snapshots" / "0123abcd"
    shutil.copytree(tiny_paths["mochi-tiny"], snapshot)
    (cache / "models--acme--mochi-tiny" / "refs").mkdir()
    (cache / "models--acme--mochi-tiny" / "refs" / "main").write_text("0123abcd")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))

    entry = CatalogEntry(id="mochi", family="mochi", weights="hf:acme/mochi-tiny")
    assert entry.folder() == snapshot
    assert get_family("mochi").spec(entry).sizes.min_side == 16  # the folder's tiny marker was read
    assert load_entry(entry, "t2v", models_dir, device="cpu").memory_bytes > 0

    missing = CatalogEntry(id="other", family="mochi", weights="hf:acme/not-cached")
    with pytest.raises(WeightsNotFound) as err:
        load_entry(missing, "t2v", models_dir, device="cpu")
    assert "acme/not-cached is not in the local Hugging Face cache" in err.value.message


def test_an_incomplete_folder_is_a_clear_error(
    tiny_paths: dict[str, Path], models_dir: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "ltx-broken"
    shutil.copytree(tiny_paths["ltx-tiny"], broken)
    shutil.rmtree(broken / "transformer")
    entry = CatalogEntry(id="ltx", family="ltx", weights=str(broken))
    with pytest.raises(WeightsNotFound) as err:
        load_entry(entry, "t2v", models_dir, device="cpu")
    assert "not a complete LTXPipeline checkpoint" in err.value.message


def test_a_checkpoint_refuses_a_mode_it_was_not_trained_for(
    tiny_paths: dict[str, Path], models_dir: Path
) -> None:
    entry = CatalogEntry(id="cog", family="cogvideox", weights=str(tiny_paths["cogvideox-tiny"]))
    assert get_family("cogvideox").spec(entry).modes == frozenset({"t2v"})
    with pytest.raises(Exception, match="does not support i2v"):
        load_entry(entry, "i2v", models_dir, device="cpu")


@pytest.mark.parametrize("family", ["ltx", "shapes"])
def test_a_built_in_name_of_a_family_without_one_is_a_clear_error(family: str, tmp_path: Path) -> None:
    from local_models import materialize

    entry = CatalogEntry(id="x", family=family, weights="builtin:nothing-here")
    with pytest.raises(WeightsNotFound):
        materialize(entry, tmp_path)
    assert not list((tmp_path / "builtin").glob("*"))  # no half-built folder left behind
