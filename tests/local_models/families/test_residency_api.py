"""Two models on one device under a memory budget that holds only one: LRU eviction, seen in /metrics."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from local_models.catalog import CatalogEntry
from local_models.loading import load_entry

from ...support import FAKE_CONFIG, auth, make_settings, running_gateway
from .tiny import catalog_toml


def _metric(text: str, name: str, model: str) -> float:
    match = re.search(rf'^{name}{{model="{model}"}} ([0-9.e+]+)$', text, re.M)
    return float(match.group(1)) if match else 0.0


async def test_two_models_share_a_budget(
    tmp_path: Path, models_dir: Path, tiny_paths: dict[str, Path]
) -> None:
    sizes = {
        model: load_entry(
            CatalogEntry(id=model, family=family, weights=str(tiny_paths[model])), "t2v", models_dir, "cpu"
        ).memory_bytes
        for model, family in (("ltx-tiny", "ltx"), ("mochi-tiny", "mochi"))
    }
    budget = max(sizes.values()) + min(sizes.values()) / 2  # room for either model, never both
    assert budget < sum(sizes.values())
    settings = make_settings(
        tmp_path,
        f"sqlite:///{tmp_path / 'db.sqlite'}",
        models_dir,
        config=FAKE_CONFIG + catalog_toml(tiny_paths),
        max_loaded_models=4,
        gpu_memory_gb=budget / 1024**3,
    )
    async with running_gateway(settings) as gw:
        key = gw.new_key(credits=1000)
        for model in ("ltx-tiny", "mochi-tiny", "ltx-tiny"):
            video = (await gw.create(key, prompt="a red circle", model=model, size="32x32", seed=1)).json()
            assert (await gw.wait(key, video["id"]))["status"] == "completed"
            warm: list[str] = []
            for _ in range(100):  # the backends view is cached for a moment
                backends = (await gw.client.get("/v1/backends", headers=auth(key))).json()
                warm = next(b for b in backends["data"] if b["id"] == "local")["warm_models"]
                if warm == [model]:
                    break
                await asyncio.sleep(0.05)
            assert warm == [model]
        metrics = (await gw.client.get("/metrics")).text
    assert _metric(metrics, "framegate_model_loads_total", "ltx-tiny") == 2
    assert _metric(metrics, "framegate_model_loads_total", "mochi-tiny") == 1
    assert _metric(metrics, "framegate_model_evictions_total", "ltx-tiny") == 1
    assert _metric(metrics, "framegate_model_evictions_total", "mochi-tiny") == 1
    resident = re.search(r'^framegate_device_memory_bytes{backend="local"} ([0-9.e+]+)$', metrics, re.M)
    assert resident and float(resident.group(1)) == sizes["ltx-tiny"]
