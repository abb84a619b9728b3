"""Runs ``ray_cases.py`` (a local Ray Serve pool behind the gateway) in a private network namespace.

Ray binds its node services to the machine's network address and cannot be told to use loopback;
inside a fresh namespace (``unshare --net``) the only interface is loopback, so every byte Ray sends
stays on this machine's 127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("ray.serve")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def test_ray_serve_pool_in_a_private_network() -> None:
    assert shutil.which("unshare"), "util-linux's unshare is needed to give Ray a loopback-only network"
    command = (
        "ip link set lo up && "
        f"{sys.executable} -m pytest -q -p no:cacheprovider --rootdir {ROOT} {HERE / 'ray_cases.py'}"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "RAY_USAGE_STATS_ENABLED": "0"}
    result = subprocess.run(
        ["unshare", "--net", "sh", "-c", command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    summary = [line for line in result.stdout.splitlines() if " passed" in line or " failed" in line]
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert summary and "2 passed" in summary[-1], result.stdout[-3000:]
