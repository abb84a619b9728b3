"""Per-key rate limits: 429 with retry-after; shared between gateway processes through Redis."""

from __future__ import annotations

import secrets
from pathlib import Path

from ..support import auth, make_settings, redis_available, require, running_gateway


async def test_in_process_bucket(tmp_path: Path, models_dir: Path) -> None:
    settings = make_settings(
        tmp_path,
        f"sqlite:///{tmp_path / 'db.sqlite'}",
        models_dir,
        rate_limit_per_minute=60,
        rate_limit_burst=3,
    )
    async with running_gateway(settings) as gw:
        key, other = gw.new_key(), gw.new_key()
        codes = [(await gw.client.get("/v1/models", headers=auth(key))).status_code for _ in range(5)]
        assert codes == [200, 200, 200, 429, 429]
        refused = await gw.client.get("/v1/models", headers=auth(key))
        assert refused.json()["error"]["code"] == "rate_limited" and int(refused.headers["retry-after"]) >= 1
        assert (await gw.client.get("/v1/models", headers=auth(other))).status_code == 200, (
            "buckets are per key"
        )


async def test_two_gateways_share_one_bucket_through_redis(tmp_path: Path, models_dir: Path) -> None:
    require(redis_available(), "Redis is not reachable on 127.0.0.1:6379")
    db = f"sqlite:///{tmp_path / 'shared.sqlite'}"
    common = {"rate_limit_per_minute": 60, "rate_limit_burst": 4, "redis_url": "redis://127.0.0.1:6379/0"}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    async with (
        running_gateway(make_settings(tmp_path / "a", db, models_dir, **common)) as one,
        running_gateway(make_settings(tmp_path / "b", db, models_dir, **common)) as two,
    ):
        key = one.new_key(account=f"shared-{secrets.token_hex(4)}")
        codes = []
        for i in range(6):
            gw = one if i % 2 == 0 else two
            codes.append((await gw.client.get("/v1/models", headers=auth(key))).status_code)
        assert codes == [200, 200, 200, 200, 429, 429]
