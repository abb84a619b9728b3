"""MP4 files that browsers play: H.264, yuv420p, faststart, the exact frames we asked for."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image

from local_models.qc import _small
from local_models.video import (
    InvalidVideo,
    VideoTooLarge,
    VideoTooLong,
    encode_mp4,
    probe,
    read_frames,
    read_frames_bounded,
    write_posters,
)

ROOT = Path(__file__).resolve().parents[2]


def test_encode_roundtrip(tmp_path: Path) -> None:
    frames = np.zeros((9, 48, 80, 3), dtype=np.uint8)
    for t in range(9):
        frames[t, :, t * 8 : (t * 8) + 16] = (255, 255, 255)
    path = tmp_path / "a.mp4"
    encode_mp4(frames, 8, path)
    info = probe(path)
    assert (info.video_codec, info.pix_fmt, info.width, info.height, info.fps) == (
        "h264",
        "yuv420p",
        80,
        48,
        8,
    )
    decoded, fps = read_frames(path)
    assert decoded.shape == frames.shape and fps == 8
    # Lossy, but the moving bar is where we put it.
    assert np.abs(decoded.astype(int) - frames.astype(int)).mean() < 8
    data = path.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat"), "faststart puts the index first"


def test_float_frames_are_accepted(tmp_path: Path) -> None:
    frames = np.full((3, 16, 16, 3), 0.5, dtype=np.float32)
    encode_mp4(frames, 4, tmp_path / "f.mp4")
    decoded, _ = read_frames(tmp_path / "f.mp4")
    assert abs(decoded.mean() - 128) < 4


def test_posters(tmp_path: Path) -> None:
    frames = np.random.default_rng(0).integers(0, 255, (10, 32, 40, 3), dtype=np.uint8)
    write_posters(frames, tmp_path / "t.webp", tmp_path / "s.jpg")
    assert Image.open(tmp_path / "t.webp").size == (40, 32)
    sheet = Image.open(tmp_path / "s.jpg")
    assert sheet.format == "JPEG" and sheet.size == (4 * 40, 3 * 32)


def _lavfi(path: Path, *, size: str, frames: int, fmt: str = "mp4", source: str = "color") -> Path:
    """A clip (black by default) straight from the shipped ffmpeg, no frames held in the test process."""
    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            *("-hide_banner", "-loglevel", "error", "-y"),
            *("-f", "lavfi", "-i", f"{source}=s={size}:r=25"),
            *("-frames:v", str(frames), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"),
            *("-f", fmt, str(path)),
        ],
        check=True,
        capture_output=True,
    )
    return path


class _Watched:
    """A PyAV container that counts (or forbids) the frames decoded from it."""

    def __init__(self, container: Any, *, allow_decode: bool) -> None:
        self._container, self.allow_decode, self.decoded = container, allow_decode, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._container, name)

    def __enter__(self) -> _Watched:
        return self

    def __exit__(self, *exc: object) -> None:
        self._container.close()

    def decode(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        assert self.allow_decode, "decoded a clip that its metadata already refuses"
        for frame in self._container.decode(*args, **kwargs):
            self.decoded += 1
            yield frame


@pytest.fixture
def watch(monkeypatch: pytest.MonkeyPatch) -> Any:
    opened: list[_Watched] = []
    real_open = av.open

    def arm(*, allow_decode: bool) -> list[_Watched]:
        def fake_open(*args: Any, **kwargs: Any) -> _Watched:
            opened.append(_Watched(real_open(*args, **kwargs), allow_decode=allow_decode))
            return opened[-1]

        monkeypatch.setattr(av, "open", fake_open)
        return opened

    return arm


def test_bounded_decode_gives_the_frames_qc_would_use(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (6, 360, 640, 3), dtype=np.uint8)
    frames[:, 100:200, 50:250] = (200, 30, 30)
    encode_mp4(frames, 8, tmp_path / "big.mp4")
    clip = read_frames_bounded(tmp_path / "big.mp4", max_frames=6, max_pixels=640 * 360)
    assert (clip.width, clip.height, clip.fps) == (640, 360, 8.0)
    assert clip.frames.shape == (6, 144, 256, 3) and clip.frames.dtype == np.uint8
    whole, _ = read_frames(tmp_path / "big.mp4")
    assert np.array_equal(clip.frames, _small(whole)), "same pixels as decoding whole, then downscaling"
    encode_mp4(frames[:, :48, :80], 8, tmp_path / "small.mp4")
    small = read_frames_bounded(tmp_path / "small.mp4", max_frames=100, max_pixels=80 * 48, max_side=256)
    assert np.array_equal(small.frames, read_frames(tmp_path / "small.mp4")[0]), "small clips as they are"


def test_bounded_decode_refuses_from_metadata_before_decoding(tmp_path: Path, watch: Any) -> None:
    path = _lavfi(tmp_path / "long.mp4", size="640x360", frames=60)
    opened = watch(allow_decode=False)
    with pytest.raises(VideoTooLong, match="has 60 frames") as long:
        read_frames_bounded(path, max_frames=50, max_pixels=4096 * 2160)
    assert (long.value.code, long.value.param) == ("video_too_long", "file")
    with pytest.raises(VideoTooLarge) as large:
        read_frames_bounded(path, max_frames=100, max_pixels=640 * 360 - 1)
    assert (large.value.code, large.value.param) == ("video_too_large", "file")
    assert len(opened) == 2 and all(c.decoded == 0 for c in opened)


def test_bounded_decode_stops_at_the_cap_when_the_container_does_not_say(tmp_path: Path, watch: Any) -> None:
    # A raw H.264 stream declares neither a frame count nor a duration: only decoding finds its length.
    path = _lavfi(tmp_path / "raw.h264", size="64x48", frames=150, fmt="h264", source="testsrc2")
    opened = watch(allow_decode=True)
    with pytest.raises(VideoTooLong, match="more than 100 frames"):
        read_frames_bounded(path, max_frames=100, max_pixels=64 * 48)
    assert opened[-1].decoded == 101, "stopped at the first frame past the cap"
    clip = read_frames_bounded(path, max_frames=150, max_pixels=64 * 48)  # grows past its first guess
    assert clip.frames.shape == (150, 48, 64, 3) and (clip.width, clip.height) == (64, 48)
    assert np.array_equal(clip.frames, read_frames(path)[0])


@pytest.mark.parametrize("data", [b"", b"nope", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64])
def test_bounded_decode_refuses_what_is_not_a_video(tmp_path: Path, data: bytes) -> None:
    (tmp_path / "x.mp4").write_bytes(data)
    with pytest.raises(InvalidVideo) as refused:
        read_frames_bounded(tmp_path / "x.mp4", max_frames=10, max_pixels=10_000)
    assert (refused.value.code, refused.value.param) == ("invalid_video", "file")


def _peak_growth_mb(code: str) -> float:
    """Run ``code`` in a fresh interpreter; how far its peak RSS rose over the peak after imports (MB)."""
    script = (
        textwrap.dedent(
            """
        import resource, sys
        from pathlib import Path
        import cv2, numpy as np
        from local_models.qc import check_frames
        from local_models.video import read_frames_bounded
        check_frames(np.zeros((3, 16, 16, 3), dtype=np.uint8))  # OpenCV's own start-up allocations
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        """
        )
        + textwrap.dedent(code)
        + textwrap.dedent(
            """
        print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024)
        """
        )
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=False, timeout=300
    )
    assert result.returncode == 0, result.stderr
    return float(result.stdout.strip().splitlines()[-1])


def test_hostile_clip_decodes_in_bounded_memory(tmp_path: Path) -> None:
    """The outside probe's clip: 35 KB of MP4, 1,900 black 640x360 frames. Decoding it whole took
    2.5 GB over the baseline; bounded, it is 1,900 frames of 256x144 (210 MB) and little else."""
    path = _lavfi(tmp_path / "hostile.mp4", size="640x360", frames=1900)
    assert path.stat().st_size < 200_000
    growth = _peak_growth_mb(
        f"""
        clip = read_frames_bounded(Path({str(path)!r}), max_frames=2000, max_pixels=4096 * 2160)
        assert clip.frames.shape == (1900, 144, 256, 3), clip.frames.shape
        assert (clip.width, clip.height) == (640, 360)
        """
    )
    assert growth < 400, f"decoding the hostile clip raised peak RSS by {growth:.0f} MB"


def test_qc_holds_no_whole_clip_copies() -> None:
    """check_frames works pair by pair: its peak stays well under the clip's own size (it used to
    make int16 and float copies of the whole clip, about five times its size)."""
    growth = _peak_growth_mb(
        """
        frames = np.empty((120, 144, 256, 3), dtype=np.uint8)
        frames[:] = np.arange(256, dtype=np.uint8)[None, None, :, None]
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # the clip itself does not count
        check_frames(frames)
        """
    )
    assert growth < 13.3 / 2, f"checking a 13 MB clip raised peak RSS by {growth:.1f} MB"
