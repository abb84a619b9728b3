"""Audio-visual sync: does the sound start when the picture starts moving?

The visual onset is the first moment the picture starts to change: the frame-to-frame change (the
part of the per-pixel difference of lightly blurred colour frames that stands above the noise) first
rises from its floor past 30% of the way to its peak, after at least two still frame changes (a clip
moving from its first frame has no onset); it is placed within that pair's interval by how large its
change is next to the steady ones that follow. The audio onsets are the moments the sound's loudness
(RMS over 5 ms) rises, after at least 30 ms of quiet within the clip, past 20% of the way from its floor
to its peak. The offset is that of the audio onset nearest the visual one (searched within
``av_search_ms``); ``av_drift`` is flagged when it is more than ``av_drift_ms`` either way. A clip with
no clear onset in the picture or in the sound (a steady drone, motion that never settles) is not judged.
"""

from __future__ import annotations

import numpy as np

from .qc import SCENE_THRESHOLDS, QcFlag

__all__ = ["audio_onsets", "check_sync", "mono", "motion_onset"]

_HOP_S = 0.005  # loudness is measured over 5 ms windows
_QUIET_S = 0.03  # an onset follows at least this much quiet (or the start of the clip)
_AUDIO_LEVEL = 0.2  # onset: the loudness passes this share of the way from its floor to its peak
_MOTION_LEVEL = 0.3  # onset: the frame change passes this share of the way from its floor to its peak
_SIDE = 64  # motion is measured on frames at most this many pixels a side


def mono(audio: np.ndarray) -> np.ndarray:
    """Float samples (n,) from (n,) or (channels, n) audio (int16 is scaled to [-1, 1])."""
    samples = np.asarray(audio)
    if samples.dtype == np.int16:
        samples = samples.astype(np.float32) / 32768.0
    samples = samples.astype(np.float32, copy=False)
    if samples.ndim == 2:
        samples = samples.mean(axis=0) if samples.shape[0] <= samples.shape[1] else samples.mean(axis=1)
    return samples.reshape(-1)


def audio_onsets(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Times (s) where the loudness rises out of quiet; empty when the sound has no clear event."""
    hop = max(1, round(sample_rate * _HOP_S))
    n = len(samples) // hop
    if n < 4:
        return np.zeros(0)
    rms = np.sqrt(np.mean(samples[: n * hop].reshape(n, hop) ** 2, axis=1))
    floor, peak = float(np.percentile(rms, 10)), float(rms.max())
    if peak < 1e-3 or peak < 4 * floor:  # silence, or a steady sound without events
        return np.zeros(0)
    loud = rms > floor + _AUDIO_LEVEL * (peak - floor)
    quiet = rms <= floor + 0.5 * _AUDIO_LEVEL * (peak - floor)
    quiet_windows = max(1, round(_QUIET_S / _HOP_S))
    onsets, quiet_run = [], 0  # a sound that starts with the clip (ambience, music) is no onset
    for i in range(n):
        if loud[i] and quiet_run >= quiet_windows:
            onsets.append(i * hop / sample_rate)
        quiet_run = quiet_run + 1 if quiet[i] else (0 if loud[i] else quiet_run)
    return np.array(onsets, dtype=np.float64)


def _frame_changes(frames: np.ndarray) -> np.ndarray:
    import cv2

    h, w = frames.shape[1:3]
    scale = min(1.0, _SIDE / max(h, w))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    prev: np.ndarray | None = None
    changes = []
    for frame in frames:
        small = cv2.resize(frame, size, interpolation=cv2.INTER_AREA) if scale < 1 else frame
        colour = cv2.GaussianBlur(small.astype(np.float32), (5, 5), 1.0)
        if prev is not None:
            diff = np.abs(colour - prev).max(axis=-1)  # iso-luminant colours move too
            noise = 1.4826 * float(np.median(diff)) + 0.5  # most pixels only carry noise
            changes.append(float(np.where(diff > 3 * noise, diff, 0.0).mean()))
        prev = colour
    return np.array(changes)


def motion_onset(frames: np.ndarray, fps: float) -> float | None:
    """When (s) the picture starts moving, or None when there is no clear start of motion."""
    changes = _frame_changes(frames)
    if len(changes) < 2:
        return None
    floor, peak = float(np.min(changes)), float(np.max(changes))
    if peak < 0.02 or peak < 2 * floor + 0.01:
        return None
    first = int(np.argmax(changes > floor + _MOTION_LEVEL * (peak - floor)))
    if first < 2:  # moving from the first frame (a pan, a subject already in motion): no onset
        return None
    steady = float(np.median(changes[first + 1 : first + 4])) if first + 1 < len(changes) else peak
    # Change grows with how far things moved: the first pair's share of a steady one says how much of
    # its interval was already motion.
    moving = float(np.clip((changes[first] - floor) / max(steady - floor, 1e-6), 0.0, 1.0))
    return (first + 1 - moving) / fps


def check_sync(
    frames: np.ndarray, audio: np.ndarray | None, sample_rate: int | None, fps: float | None = None
) -> tuple[dict[str, float], list[QcFlag]]:
    """Audio-visual sync of a uint8 (T, H, W, 3) clip and its sound (starting with the first frame).
    ``fps`` unknown: the sound is taken to last as long as the picture. Nothing without sound."""
    t = SCENE_THRESHOLDS
    if audio is None or not sample_rate or len(frames) < 3:
        return {}, []
    samples = mono(audio)
    if not fps:
        if len(samples) == 0:
            return {}, []
        fps = len(frames) * sample_rate / len(samples)
    visual = motion_onset(frames, fps)
    onsets = audio_onsets(samples, sample_rate)
    if visual is None or len(onsets) == 0:
        return {}, []
    nearest = float(onsets[np.argmin(np.abs(onsets - visual))])
    offset_ms = (nearest - visual) * 1000.0
    if abs(offset_ms) > t["av_search_ms"]:
        return {}, []
    scores = {"av_offset_ms": round(offset_ms, 1)}
    if abs(offset_ms) <= t["av_drift_ms"]:
        return scores, []
    frame = min(len(frames) - 1, int(visual * fps))
    sound_frame = min(len(frames) - 1, max(0, int(nearest * fps)))
    when = "after" if offset_ms > 0 else "before"
    message = (
        f"the sound starts {abs(offset_ms):.0f} ms {when} the motion it belongs to "
        f"(motion at {visual:.2f} s, sound at {nearest:.2f} s): audio and picture drift apart"
    )
    return scores, [QcFlag("av_drift", message, (min(frame, sound_frame), max(frame, sound_frame)))]
