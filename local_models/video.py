"""Video files: H.264 MP4 encoding with the ffmpeg that ``imageio-ffmpeg`` ships, posters, decoding.

Frames everywhere are ``uint8`` arrays shaped ``(frames, height, width, 3)``.
"""

from __future__ import annotations

import math
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import imageio_ffmpeg
import numpy as np
from PIL import Image

from .errors import InvalidInput

__all__ = [
    "QC_MAX_SIDE",
    "BoundedClip",
    "InvalidVideo",
    "VideoInfo",
    "VideoRejected",
    "VideoTooLarge",
    "VideoTooLong",
    "encode_mp4",
    "probe",
    "read_frames",
    "read_frames_bounded",
    "to_uint8_frames",
    "write_posters",
]


def to_uint8_frames(frames: np.ndarray) -> np.ndarray:
    """Convert float frames in [0, 1] (or uint8) shaped (T, H, W, 3) to contiguous uint8."""
    if frames.dtype != np.uint8:
        frames = (np.clip(frames, 0.0, 1.0) * 255.0).round().astype(np.uint8)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"expected frames shaped (T, H, W, 3), got {frames.shape}")
    return np.ascontiguousarray(frames)


def encode_mp4(
    frames: np.ndarray,
    fps: float,
    path: Path,
    *,
    crf: int = 18,
    audio: np.ndarray | None = None,
    sample_rate: int | None = None,
) -> None:
    """Write a browser-playable H.264 MP4 (yuv420p, ``+faststart``) to ``path`` atomically.

    ``audio`` (float samples in [-1, 1], shaped ``(channels, samples)``) at ``sample_rate`` is
    muxed in as an AAC track that starts with the first frame and lasts exactly as long as the
    picture (padded with silence or cut at the end).
    """
    if audio is not None:
        if not sample_rate:
            raise ValueError("audio needs its sample rate")
        silent = path.with_suffix(".video.mp4")
        try:
            encode_mp4(frames, fps, silent, crf=crf)
            _mux_audio(silent, audio, sample_rate, len(frames) / fps, path)
        finally:
            silent.unlink(missing_ok=True)
        return
    frames = to_uint8_frames(frames)
    _, height, width, _ = frames.shape
    if width % 2 or height % 2:
        raise ValueError("yuv420p needs even width and height")
    tmp = path.with_suffix(".part.mp4")
    writer = imageio_ffmpeg.write_frames(
        str(tmp),
        (width, height),
        fps=fps,
        codec="libx264",
        pix_fmt_out="yuv420p",
        macro_block_size=1,
        output_params=["-crf", str(crf), "-preset", "veryfast", "-movflags", "+faststart"],
        ffmpeg_log_level="error",
    )
    writer.send(None)
    for frame in frames:
        writer.send(frame)
    writer.close()
    tmp.replace(path)


def _mux_audio(video: Path, audio: np.ndarray, sample_rate: int, seconds: float, out: Path) -> None:
    samples = np.asarray(audio, dtype=np.float32)
    if samples.ndim == 1:
        samples = samples[None, :]
    if samples.ndim != 2 or samples.shape[0] > 8:
        raise ValueError(f"expected audio shaped (channels, samples), got {samples.shape}")
    pcm = (np.clip(samples, -1.0, 1.0).T * 32767.0).round().astype("<i2")
    _ffmpeg(
        [
            "-i",
            str(video),
            "-f",
            "s16le",
            "-ar",
            str(int(sample_rate)),
            "-ac",
            str(samples.shape[0]),
            "-i",
            "pipe:0",
            "-map",
            "0:v",
            "-map",
            "1:a",
            "-c:v",
            "copy",
            "-c:a",
            "aac",
            "-b:a",
            "128k",
            "-af",
            "apad",
            "-t",
            f"{seconds:.6f}",
            "-movflags",
            "+faststart",
        ],
        out,
        "mux the audio",
        stdin=pcm.tobytes(),
    )


def _ffmpeg(args: list[str], out: Path, what: str, *, stdin: bytes | None = None) -> None:
    """Run the shipped ffmpeg writing ``out`` atomically (via a ``.part.mp4``); ValueError on failure."""
    tmp = out.with_suffix(".part.mp4")
    result = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args, str(tmp)],
        input=stdin,
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise ValueError(f"ffmpeg could not {what}: {result.stderr.decode(errors='replace').strip()[-300:]}")
    tmp.replace(out)


def write_posters(frames: np.ndarray, thumbnail: Path, spritesheet: Path, *, max_tiles: int = 16) -> None:
    """A WebP thumbnail of the middle frame and a JPEG contact sheet of evenly spaced frames."""
    frames = to_uint8_frames(frames)
    Image.fromarray(frames[len(frames) // 2]).save(thumbnail, format="WEBP", quality=90)
    count = min(len(frames), max_tiles)
    picks = np.linspace(0, len(frames) - 1, count).round().astype(int)
    cols = math.ceil(math.sqrt(count))
    rows = math.ceil(count / cols)
    _, h, w, _ = frames.shape
    sheet = np.zeros((rows * h, cols * w, 3), dtype=np.uint8)
    for tile, index in enumerate(picks):
        r, c = divmod(tile, cols)
        sheet[r * h : (r + 1) * h, c * w : (c + 1) * w] = frames[index]
    Image.fromarray(sheet).save(spritesheet, format="JPEG", quality=90)


def read_frames(path: Path) -> tuple[np.ndarray, float]:
    """Decode a video into uint8 RGB frames and its frame rate."""
    reader = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
    meta = next(reader)
    width, height = meta["size"]
    frames = [np.frombuffer(buf, dtype=np.uint8).reshape(height, width, 3) for buf in reader]
    if not frames:
        raise ValueError(f"{path} has no frames")
    return np.stack(frames), float(meta["fps"])


QC_MAX_SIDE = 256  # quality checks look at structure, not detail (see local_models.qc)


class VideoRejected(InvalidInput):
    """A clip refused before or while decoding it; ``param`` is the upload's ``file`` part."""

    code = "invalid_video"

    def __init__(self, message: str) -> None:
        super().__init__(message, param="file")


class InvalidVideo(VideoRejected):
    """Not a video that can be decoded (no video stream, corrupt, no frames)."""

    code = "invalid_video"


class VideoTooLong(VideoRejected):
    """More frames than the caller's cap, declared by the container or seen while decoding."""

    code = "video_too_long"


class VideoTooLarge(VideoRejected):
    """Frames with more pixels than the caller's cap."""

    code = "video_too_large"


@dataclass(frozen=True)
class BoundedClip:
    """A clip decoded under caps: ``frames`` at most ``max_side`` a side; ``width``/``height`` as stored."""

    frames: np.ndarray
    fps: float
    width: int
    height: int


# A frame count estimated from a duration is approximate (container rounding, the last frame's length):
# refuse up front only past this allowance; the exact cap is enforced while decoding.
_ESTIMATE_SLACK = 1.02


def read_frames_bounded(
    path: Path, *, max_frames: int, max_pixels: int, max_side: int = QC_MAX_SIDE
) -> BoundedClip:
    """Decode a video (untrusted: an upload) under caps, with memory bounded by ``max_frames`` small frames.

    The container's metadata is read first, without decoding: a picture over ``max_pixels`` pixels
    (:class:`VideoTooLarge`) or more than ``max_frames`` frames, as declared or estimated from the
    duration (:class:`VideoTooLong`), is refused before any frame is decoded. Frames are then decoded
    one at a time, each scaled at once to at most ``max_side`` pixels on its longest side (the same
    ``INTER_AREA`` downscale that :func:`local_models.qc.check_frames` applies, so its scores do not
    change), and decoding stops with :class:`VideoTooLong` at the first frame past the cap (a container
    that understates its length) or :class:`VideoTooLarge` at a frame over the pixel cap. Anything that
    cannot be decoded is :class:`InvalidVideo`.
    """
    try:
        container = av.open(str(path), mode="r")
    except (av.error.FFmpegError, OSError, ValueError):
        raise InvalidVideo("the file is not a video that can be decoded") from None  # no server paths
    with container:
        if not container.streams.video:
            raise InvalidVideo("the file has no video stream")
        stream = container.streams.video[0]
        width, height = int(stream.width or 0), int(stream.height or 0)
        if width <= 0 or height <= 0:
            raise InvalidVideo("the video stream has no picture size")
        if width * height > max_pixels:
            raise VideoTooLarge(
                f"the clip is {width}x{height} ({width * height} pixels); at most {max_pixels} are checked"
            )
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 0.0
        declared, exact = _declared_frames(container, stream, fps)
        if declared > (max_frames if exact else max_frames * _ESTIMATE_SLACK + 1):
            what = "has" if exact else "lasts about"
            raise VideoTooLong(f"the clip {what} {declared} frames; at most {max_frames} are checked")
        size = _fit(width, height, max_side)
        frames = np.empty((max(1, min(declared or 64, max_frames)), size[1], size[0], 3), dtype=np.uint8)
        count = 0
        stream.thread_type = "AUTO"
        try:
            for frame in container.decode(stream):
                if count >= max_frames:
                    raise VideoTooLong(
                        f"the clip has more than {max_frames} frames; at most {max_frames} are checked"
                    )
                if frame.width * frame.height > max_pixels:
                    raise VideoTooLarge(
                        f"the clip has {frame.width}x{frame.height} frames; "
                        f"at most {max_pixels} pixels are checked"
                    )
                if count == len(frames):  # the container understated its length: grow, up to the cap
                    grown = np.empty((min(2 * count, max_frames), *frames.shape[1:]), dtype=np.uint8)
                    grown[:count] = frames
                    frames = grown
                frames[count] = _downscale(frame.to_ndarray(format="rgb24"), size)
                count += 1
        except (av.error.FFmpegError, ValueError):
            raise InvalidVideo("the video cannot be decoded") from None
    if count == 0:
        raise InvalidVideo("the video has no frames")
    return BoundedClip(frames[:count], fps, width, height)


def _declared_frames(container: Any, stream: Any, fps: float) -> tuple[int, bool]:
    """The frame count the container declares (exact) or its duration implies (estimate); 0: unknown."""
    if stream.frames and stream.frames > 0:
        return int(stream.frames), True
    seconds = None
    if stream.duration is not None and stream.time_base:
        seconds = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        seconds = container.duration / av.time_base
    if seconds and seconds > 0 and fps > 0:
        return math.ceil(seconds * fps), False
    return 0, False


def _fit(width: int, height: int, max_side: int) -> tuple[int, int]:
    """(width, height) scaled to at most ``max_side`` on the longest side, as ``qc._small`` does."""
    scale = max_side / max(width, height)
    if scale >= 1:
        return width, height
    return max(1, round(width * scale)), max(1, round(height * scale))


def _downscale(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    import cv2

    if (rgb.shape[1], rgb.shape[0]) == size:
        return rgb
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


@dataclass(frozen=True)
class VideoInfo:
    """What ffmpeg reports about a file's streams."""

    video_codec: str | None
    pix_fmt: str | None
    width: int
    height: int
    fps: float
    audio_codec: str | None


_VIDEO = re.compile(r"Stream #.*Video: (\w+).*?, (\w+)(?:\([^)]*\))?, (\d+)x(\d+).*?([\d.]+) fps")
_AUDIO = re.compile(r"Stream #.*Audio: (\w+)")


def probe(path: Path) -> VideoInfo:
    """Inspect ``path`` with the shipped ffmpeg (``ffmpeg -i``), no ffprobe needed."""
    result = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    video = _VIDEO.search(result.stderr)
    audio = _AUDIO.search(result.stderr)
    if video is None:
        raise ValueError(f"{path} has no video stream: {result.stderr.strip()[-300:]}")
    return VideoInfo(
        video_codec=video.group(1),
        pix_fmt=video.group(2),
        width=int(video.group(3)),
        height=int(video.group(4)),
        fps=float(video.group(5)),
        audio_codec=audio.group(1) if audio else None,
    )


def concat_videos(paths: list[Path], out: Path, *, width: int, height: int, fps: int) -> None:
    """Join clips, in order, into one H.264 MP4 at a common size and frame rate (the shipped ffmpeg).

    Each clip is scaled to fit ``width``x``height`` (letterboxed, aspect kept) and resampled to ``fps``.
    """
    if not paths:
        raise ValueError("nothing to join")
    if width % 2 or height % 2:
        raise ValueError("yuv420p needs even width and height")
    args: list[str] = []
    for path in paths:
        args += ["-i", str(path)]
    chains = [
        f"[{i}:v]scale={width}:{height}:force_original_aspect_ratio=decrease,"
        f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2,fps={fps},setsar=1,format=yuv420p[v{i}]"
        for i in range(len(paths))
    ]
    joined = "".join(f"[v{i}]" for i in range(len(paths)))
    graph = ";".join(chains) + f";{joined}concat=n={len(paths)}:v=1:a=0[out]"
    _ffmpeg(
        [
            *args,
            "-filter_complex",
            graph,
            "-map",
            "[out]",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-crf",
            "18",
            "-pix_fmt",
            "yuv420p",
            "-movflags",
            "+faststart",
        ],
        out,
        "join the clips",
    )
