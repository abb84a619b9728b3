"""Video files: H.264 MP4 encoding with the ffmpeg that ``imageio-ffmpeg`` ships, posters, decoding.

Frames everywhere are ``uint8`` arrays shaped ``(frames, height, width, 3)``.
"""

from __future__ import annotations

import math
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg
import numpy as np
from PIL import Image

__all__ = ["VideoInfo", "encode_mp4", "probe", "read_frames", "to_uint8_frames", "write_posters"]


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
