"""MP4 files that browsers play: H.264, yuv420p, faststart, the exact frames we asked for."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from local_models.video import encode_mp4, probe, read_frames, write_posters


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
