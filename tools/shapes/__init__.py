"""Training, data generation, evaluation and model cards of Framegate's shapes models.

The runtime (serving and QC's adherence check) is ``local_models.shapes``; this is what made its
shipped weights. Run from the repository root::

    python -m tools.shapes.train --model shapes-fast [--steps 3000] [--threads 1]
    python -m tools.shapes.upsampler_train [--steps 1200]   # the learned 32 -> 128 upsampler
    python -m tools.shapes.evaluate --model shapes-hq [--n 200] [--sheet sheet.png]
    python -m tools.shapes.card --model shapes-hq [--n 200]
"""

from __future__ import annotations

from pathlib import Path

import local_models.shapes

__all__ = ["WEIGHTS"]

WEIGHTS = Path(local_models.shapes.__file__).resolve().parent / "weights"
"""Where the shipped weights live (inside the runtime package)."""
