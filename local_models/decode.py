"""Bounded decodes beyond a clip's frames: its sound (for audio-visual sync) and its first and last
frames (for continuity across a cut), without decoding the whole picture.

Like :func:`local_models.video.read_frames_bounded`, these take untrusted files: anything that cannot
be decoded is :class:`~local_models.video.InvalidVideo`, a picture over the pixel cap
:class:`~local_models.video.VideoTooLarge`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np

from .video import QC_MAX_SIDE, InvalidVideo, VideoTooLarge, _downscale, _fit

__all__ = ["BoundedAudio", "read_audio_bounded", "read_boundary_frames"]


@dataclass(frozen=True)
class BoundedAudio:
    """A clip's sound, mixed down to mono float32 ``samples`` in [-1, 1] at ``sample_rate``, from the
    clip's start; ``truncated``: the sound went on past the cap."""

    samples: np.ndarray
    sample_rate: int
    truncated: bool


def _open(path: Path) -> Any:
    try:
        return av.open(str(path), mode="r")
    except (av.error.FFmpegError, OSError, ValueError):
        raise InvalidVideo("the file is not a video that can be decoded") from None  # no server paths


def read_audio_bounded(path: Path, *, max_seconds: float) -> BoundedAudio | None:
    """The clip's first audio track, at most ``max_seconds`` of it, or None when it has no sound.

    Decoded a packet at a time into one mono buffer of at most ``max_seconds`` (a long or lying
    container costs no more memory): decoding stops at the cap.
    """
    with _open(path) as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        rate = int(stream.rate or stream.codec_context.sample_rate or 0)
        if rate <= 0:
            return None
        cap = max(0, int(max_seconds * rate))
        samples = np.zeros(cap, dtype=np.float32)
        count, truncated = 0, False
        mixer = av.AudioResampler(format="flt", layout="mono", rate=rate)
        try:
            for frame in container.decode(stream):
                for mixed in mixer.resample(frame):
                    chunk = mixed.to_ndarray().reshape(-1)
                    take = min(len(chunk), cap - count)
                    samples[count : count + take] = chunk[:take]
                    count += take
                    truncated = truncated or take < len(chunk)
                if count >= cap:
                    truncated = True
                    break
        except (av.error.FFmpegError, ValueError):
            raise InvalidVideo("the sound cannot be decoded") from None
    return BoundedAudio(samples[:count], rate, truncated)


def read_boundary_frames(
    path: Path, *, max_pixels: int, max_side: int = QC_MAX_SIDE, tail_seconds: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """The first and last frames of a clip (uint8 RGB, at most ``max_side`` a side).

    The first is the first decoded; for the last the container seeks to the keyframe before the final
    ``tail_seconds`` and decodes from there, keeping one frame at a time (a clip whose length is unknown
    is decoded through, still one frame at a time).
    """
    with _open(path) as container:
        if not container.streams.video:
            raise InvalidVideo("the file has no video stream")
        stream = container.streams.video[0]
        width, height = int(stream.width or 0), int(stream.height or 0)
        if width * height > max_pixels:
            raise VideoTooLarge(f"the clip is {width}x{height}; at most {max_pixels} pixels are checked")
        size = _fit(width, height, max_side) if width and height else None
        try:
            first = _rgb(next(container.decode(stream)), size, max_pixels)
            last = first
            seconds = container.duration / av.time_base if container.duration else None
            if seconds and seconds > tail_seconds and stream.time_base:
                target = int((seconds - tail_seconds) / stream.time_base)
                container.seek(target, stream=stream, backward=True, any_frame=False)
            for frame in container.decode(stream):
                last = _rgb(frame, size, max_pixels)
        except StopIteration:
            raise InvalidVideo("the video has no frames") from None
        except (av.error.FFmpegError, ValueError):
            raise InvalidVideo("the video cannot be decoded") from None
    return first, last


def _rgb(frame: Any, size: tuple[int, int] | None, max_pixels: int) -> np.ndarray:
    if frame.width * frame.height > max_pixels:
        raise VideoTooLarge(f"the clip has {frame.width}x{frame.height} frames; at most {max_pixels} pixels")
    rgb = frame.to_ndarray(format="rgb24")
    return _downscale(rgb, size or (frame.width, frame.height))
