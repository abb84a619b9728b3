"""What the worker derives from a finished clip, decoded under the same caps as uploads: posters for a
clip whose backend made none, and the quality checks. A clip is decoded at most once: the frames
decoded for its posters feed its quality checks (a local run writes its posters from the frames it
already holds, so its checks decode the MP4 once, judging the file the user gets)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from adapters import Artifact
from gateway.engine.jobs.submission import format_seconds
from gateway.engine.prompts import wants_motion
from local_models.decode import read_audio_bounded
from local_models.qc import check_frames
from local_models.video import VideoRejected, read_frames_bounded, write_posters

__all__ = ["package_clip", "posters_for", "quality_of"]

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
    fps: float | None = None,
    start: int = 0,
) -> dict[str, Any] | None:
    """The quality report of a finished clip, or None for a clip over the caps. A clip with sound
    is also checked for audio-visual sync (``fps``: its frame rate).

    ``frames``: the clip already decoded (for its posters); otherwise it is decoded here, once.
    ``start``: where ``frames`` begin in ``video`` (an extension's new segment, after its source):
    the sound is taken from there, and the flags' frame spans count from the video's start.
    ``prompt_check``: the model's prompt-adherence checker (``ModelSpec.prompt_check``), if it has one.
    """
    if frames is None:
        try:
            frames = read_frames_bounded(video, max_frames=max_frames, max_pixels=max_pixels).frames
        except VideoRejected as exc:
            log.warning("no quality checks for %s: %s (%s)", job_id, exc.message, exc.code)
            return None
    sound = None
    rate = max(1.0, fps or 1.0)
    try:
        sound = read_audio_bounded(video, max_seconds=(start + max_frames) / rate)
    except VideoRejected as exc:
        log.warning("no sound checked for %s: %s", job_id, exc.message)
    samples = None
    if sound is not None:
        samples = sound.samples[round(start / rate * sound.sample_rate) :]
    report = check_frames(
        frames,
        prompt=prompt,
        wants_motion=wants_motion(prompt),
        prompt_check=prompt_check,
        audio=samples,
        sample_rate=sound.sample_rate if sound is not None else None,
        fps=fps,
    ).as_dict()
    for flag in report["flags"]:
        if "frames" in flag:
            flag["frames"] = [flag["frames"][0] + start, flag["frames"][1] + start]
    return report


def package_clip(
    job: Any, artifact: Artifact, run_seconds: float, decoded: Any | None, *, max_frames: int, max_pixels: int
) -> tuple[dict[str, Path], dict[str, Any], Any | None]:
    """A finished take's files (the clip, its posters, ``metadata.json``), the job's ``result``, and
    the frames decoded on the way (``decoded`` unless posters had to be made from the clip)."""
    files: dict[str, Path] = {"video": artifact.video_path}
    if artifact.thumbnail_path is None or artifact.spritesheet_path is None:
        posters, frames = posters_for(
            artifact.video_path, job.id, max_frames=max_frames, max_pixels=max_pixels
        )
        files.update(posters)
        decoded = frames if frames is not None else decoded
    else:
        files.update(thumbnail=artifact.thumbnail_path, spritesheet=artifact.spritesheet_path)
    result = {
        "width": artifact.width,
        "height": artifact.height,
        "frames": artifact.frames,
        "fps": artifact.fps,
        "has_audio": artifact.has_audio,
        "run_seconds": round(run_seconds, 4),
        "queued_seconds": round((job.started_at or job.created_at) - job.created_at, 4),
        "backend_metadata": artifact.metadata,
        "qc": None,  # the full checks land a moment after the job completes
    }
    if job.source_kind == "extension":
        result["seconds_total"] = format_seconds(artifact.frames / artifact.fps)
    metadata = {
        "id": job.id,
        "prompt": job.prompt,
        "model": job.model,
        "backend": job.backend,
        "params": job.params,
        "input_sha256": job.input_sha256,
        **result,
    }
    meta_path = artifact.video_path.with_name("metadata.json")
    meta_path.write_text(json.dumps(metadata, indent=2, sort_keys=True))
    files["metadata"] = meta_path
    return files, result, decoded
