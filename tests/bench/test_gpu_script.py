"""bench/gpu.sh, the GPU proof, until a GPU is lent: its syntax, and its table from the CPU dry run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_gpu_script_parses_and_its_table_comes_out_on_a_cpu() -> None:
    subprocess.run(["bash", "-n", str(ROOT / "bench" / "gpu.sh")], check=True)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "gpu.py"), "--dry"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    table = done.stdout
    assert "dry run" in table and "failed" not in table, table
    for row in (
        "wan 1.3B 832x480x81: seconds per step",
        "ltx-video 704x480x161",
        "one batched forward",
        "RMSNorm+RoPE",
    ):
        assert row in table, table
