"""Frames and joins for videos made from other videos: a remix keeps the source's settings, an
extension continues from its last frame and is joined after it, an edit re-renders guided by its
first frame, a character is a frame taken from a clip. ffmpeg runs as a subprocess with a time cap
(the clip may be an upload, so untrusted); the frame it writes is then validated like any image."""

from __future__ import annotations

import logging
import re
import subprocess
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import imageio_ffmpeg

from adapters import Artifact
from gateway.engine.artifacts import ArtifactStore
from gateway.engine.errors import InvalidRequest
from local_models.errors import FramegateError

log = logging.getLogger("framegate.worker")

__all__ = [
    "SOURCE_SUFFIX",
    "Which",
    "check_upload",
    "clip_seconds",
    "extract_frame",
    "joined_extension",
    "source_copy_path",
]

Which = Literal["first", "middle", "last"]
FFMPEG_SECONDS = 60
SOURCE_SUFFIX = ".source.mp4"  # an uploaded clip an extension continues, kept beside its frame


def check_upload(video: Path, *, max_frames: int, max_pixels: int) -> None:
    """Refuse an uploaded source from its container, before anything is decoded: not a video
    (``invalid_video``), more pixels than ``max_pixels`` (``video_too_large``) or more frames than
    ``max_frames`` (``video_too_long``, from the declared count or the duration), the same caps as
    uploads to ``/v1/qc``."""
    import av

    from local_models.video import InvalidVideo, VideoTooLarge, VideoTooLong

    def refuse(error: FramegateError) -> FramegateError:
        error.param = "video"  # the part this route reads the clip from
        return error

    try:
        container = av.open(str(video), mode="r")
    except (av.error.FFmpegError, OSError, ValueError):
        raise refuse(InvalidVideo("the file is not a video that can be decoded")) from None
    with container:
        if not container.streams.video:
            raise refuse(InvalidVideo("the file has no video stream"))
        stream = container.streams.video[0]
        width, height = int(stream.width or 0), int(stream.height or 0)
        if width * height > max_pixels:
            raise refuse(VideoTooLarge(f"the clip is {width}x{height}; at most {max_pixels} pixels"))
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        seconds = container.duration / av.time_base if container.duration else 0.0
        frames = int(stream.frames or 0) or int(seconds * float(rate or 0))
        if frames > max_frames:
            raise refuse(VideoTooLong(f"the clip has about {frames} frames; at most {max_frames}"))


def extract_frame(video: Path, which: Which, *, param: str = "video") -> bytes:
    """A PNG of the clip's first, middle or last frame; ``InvalidRequest`` (``invalid_video``) if the
    file is not a video ffmpeg can read in time."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "frame.png"
        if which == "first":
            args = ["-i", str(video), "-frames:v", "1"]
        elif which == "last":
            args = ["-sseof", "-1", "-i", str(video), "-update", "1"]
        else:
            args = ["-i", str(video), "-vf", "thumbnail=300", "-frames:v", "1"]
        try:
            result = subprocess.run(
                [
                    imageio_ffmpeg.get_ffmpeg_exe(),
                    "-hide_banner",
                    "-loglevel",
                    "error",
                    "-y",
                    *args,
                    str(out),
                ],
                capture_output=True,
                timeout=FFMPEG_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise InvalidRequest(
                f"{param}: the video took too long to read", code="invalid_video", param=param
            ) from None
        if result.returncode != 0 or not out.is_file():
            raise InvalidRequest(f"{param} is not a readable video", code="invalid_video", param=param)
        return out.read_bytes()


_DURATION = re.compile(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)")


def clip_seconds(video: Path) -> float | None:
    """The duration the container declares (None if it declares none or ffmpeg cannot read it)."""
    try:
        result = subprocess.run(
            [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(video)],
            capture_output=True,
            timeout=FFMPEG_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None
    found = _DURATION.search(result.stderr.decode(errors="replace"))
    if found is None:
        return None
    hours, minutes, seconds = found.groups()
    total = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    return total if total > 0 else None


def source_copy_path(input_path: str | Path, job_id: str) -> Path:
    """Where an extension made from an uploaded clip keeps that clip (beside its reference frame)."""
    return Path(input_path).with_name(f"{job_id}{SOURCE_SUFFIX}")


def join_after(
    source: Path, segment: Path, out: Path, *, width: int, height: int, fps: int
) -> tuple[int, float]:
    """``source`` then ``segment`` as one MP4 at the segment's size and rate; (frames, seconds) of it."""
    from local_models.video import concat_videos

    concat_videos([source, segment], out, width=width - width % 2, height=height - height % 2, fps=fps)
    frames, seconds = imageio_ffmpeg.count_frames_and_secs(str(out))
    return int(frames), float(seconds)


def joined_extension(artifacts: ArtifactStore, job: Any, artifact: Artifact) -> Artifact | None:
    """An extension's clip: its source followed by the new segment (posters to be redrawn from it);
    None for any other job, or when the source is gone (the segment is then kept alone)."""
    if job.source_kind != "extension":
        return None
    if job.source_video_id:
        source = artifacts.local_path(job.source_video_id, "video")
    else:
        source = artifacts.input_file(str(source_copy_path(job.input_path, job.id)))
    if source is None or not Path(source).is_file():
        log.warning("%s: the clip it extends is gone; keeping the new segment alone", job.id)
        return None
    out = artifact.video_path.with_name("joined.mp4")
    frames, _ = join_after(
        Path(source),
        artifact.video_path,
        out,
        width=artifact.width,
        height=artifact.height,
        fps=round(artifact.fps),
    )
    return replace(artifact, video_path=out, frames=frames, thumbnail_path=None, spritesheet_path=None)
