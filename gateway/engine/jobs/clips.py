"""What the worker derives from a finished clip, decoded under the same caps as uploads: posters for a
clip whose backend made none, and the quality checks. A clip is decoded at most once: the frames
decoded for its posters feed its quality checks (a local run writes its posters from the frames it
already holds, so its checks decode the MP4 once, judging the file the user gets)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from gateway.engine.prompts import wants_motion
from local_models.qc import check_frames
from local_models.video import VideoRejected, read_frames_bounded, write_posters

__all__ = ["posters_for", "quality_of"]

log = logging.getLogger("framegate.worker")


def posters_for(
    video: Path, job_id: str, *, max_frames: int, max_pixels: int
) -> tuple[dict[str, Path], Any | None]:
    """A thumbnail and a spritesheet beside ``video`` (512 px a side at most), and the frames decoded
    for them, which the quality checks then reuse instead of decoding the clip again. None over the caps.
    """
    try:
        clip = read_frames_bounded(video, max_frames=max_frames, max_pixels=max_pixels, max_side=512)
    except VideoRejected as exc:
        log.warning("no posters for %s: %s", job_id, exc.message)
        return {}, None
    thumb, sheet = video.with_name("thumbnail.webp"), video.with_name("spritesheet.jpg")
    write_posters(clip.frames, thumb, sheet)
    return {"thumbnail": thumb, "spritesheet": sheet}, clip.frames


def quality_of(
    video: Path,
    job_id: str,
    prompt: str,
    *,
    prompt_check: str | None,
    max_frames: int,
    max_pixels: int,
    frames: Any | None = None,
) -> dict[str, Any] | None:
    """The quality report of a finished clip, or None for a clip over the caps.

    ``frames``: the clip already decoded (for its posters); otherwise it is decoded here, once.
    ``prompt_check``: the model's prompt-adherence checker (``ModelSpec.prompt_check``), if it has one.
    """
    if frames is None:
        try:
            frames = read_frames_bounded(video, max_frames=max_frames, max_pixels=max_pixels).frames
        except VideoRejected as exc:
            log.warning("no quality checks for %s: %s (%s)", job_id, exc.message, exc.code)
            return None
    report = check_frames(frames, prompt=prompt, wants_motion=wants_motion(prompt), prompt_check=prompt_check)
    return report.as_dict()
