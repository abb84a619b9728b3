"""Runs ``ray_cases.py`` (a local Ray Serve pool behind the gateway) in a private network namespace.

Ray binds its node services to the machine's network address and cannot be told to use loopback;
inside a fresh namespace (``unshare --net``) the only interface is loopback, so every byte Ray sends
stays on this machine's 127.0.0.1.
"""

from __future__ import annotations

from pathlib import Path

from ..support import require_module, run_loopback_only

require_module("ray.serve")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def test_ray_serve_pool_in_a_private_network() -> None:
    result = run_loopback_only(
        ["-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(ROOT), str(HERE / "ray_cases.py")],
        timeout=900,
    )
    summary = [line for line in result.stdout.splitlines() if " passed" in line or " failed" in line]
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert summary and "2 passed" in summary[-1], result.stdout[-3000:]
