"""What the worker derives from a finished clip, decoded under the same caps as uploads: posters for a
clip whose backend made none, and the quality checks."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from gateway.creative.prompts import wants_motion
from local_models.qc import check_frames
from local_models.video import VideoRejected, read_frames_bounded, write_posters

__all__ = ["posters_for", "quality_of"]

log = logging.getLogger("framegate.worker")


def posters_for(video: Path, job_id: str, *, max_frames: int, max_pixels: int) -> dict[str, Path]:
    """A thumbnail and a spritesheet beside ``video`` (512 px a side at most); none over the caps."""
    try:
        clip = read_frames_bounded(video, max_frames=max_frames, max_pixels=max_pixels, max_side=512)
    except VideoRejected as exc:
        log.warning("no posters for %s: %s", job_id, exc.message)
        return {}
    thumb, sheet = video.with_name("thumbnail.webp"), video.with_name("spritesheet.jpg")
    write_posters(clip.frames, thumb, sheet)
    return {"thumbnail": thumb, "spritesheet": sheet}


def quality_of(
    video: Path, job_id: str, prompt: str, *, prompt_check: str | None, max_frames: int, max_pixels: int
) -> dict[str, Any] | None:
    """The quality report of a finished clip, or None for a clip over the caps.

    ``prompt_check``: the model's prompt-adherence checker (``ModelSpec.prompt_check``), if it has one.
    """
    try:
        clip = read_frames_bounded(video, max_frames=max_frames, max_pixels=max_pixels)
    except VideoRejected as exc:
        log.warning("no quality checks for %s: %s (%s)", job_id, exc.message, exc.code)
        return None
    report = check_frames(
        clip.frames, prompt=prompt, wants_motion=wants_motion(prompt), prompt_check=prompt_check
    )
    return report.as_dict()
