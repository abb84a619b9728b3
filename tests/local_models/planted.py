"""Planted-defect clips for the scene checks (``local_models.qc_subject``, ``qc_sync``, ``qc_hierarchy``,
``qc_continuity``): clean clips and the same kind of clips with one known defect, from a seed.

Clean clips: shapes of various colours, sizes and outlines moving, bouncing, scaling (some leaving the
picture) on plain, gradient and textured grounds, most under a drifting camera, some with sensor noise
and a smaller second object. Defects: the subject turns into another (outline, colour or size) mid-shot;
the subject vanishes mid-shot (for a while, or for good); the sound starts 200-500 ms off the motion
(clean: within 40 ms); many comparably loud blobs (clean: one or two subjects); a cut to a shot with a
lighting or colour jump or another subject (clean: the same scene a moment later).
Used by ``tests/local_models/test_qc_seed_checks.py`` and ``bench/qc_planted.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Clip", "continuity_pair", "hierarchy_clip", "subject_clip", "sync_clip"]

OUTLINES = ("circle", "square", "triangle")


@dataclass
class Clip:
    frames: np.ndarray  # uint8 (T, H, W, 3)
    defect: str | None = None  # None: clean
    where: tuple[int, int] | None = None  # the frames the defect is at
    audio: np.ndarray | None = None
    sample_rate: int | None = None
    fps: float = 24.0
    info: dict[str, Any] = field(default_factory=dict)


def coverage(
    outline: str, cx: float, cy: float, r: float, h: int, w: int, turn: float = 0.0, ss: int = 2
) -> np.ndarray:
    """Anti-aliased (ss x ss samples a pixel) coverage in [0, 1] of an outline of half-size ``r``,
    turned by ``turn`` radians about its centre."""
    y0 = (np.arange(h * ss, dtype=np.float32) + 0.5)[:, None] / ss - cy
    x0 = (np.arange(w * ss, dtype=np.float32) + 0.5)[None, :] / ss - cx
    c, s = np.cos(turn), np.sin(turn)
    xs, ys = cx + c * x0 + s * y0, cy - s * x0 + c * y0
    if outline == "circle":
        inside = (xs - cx) ** 2 + (ys - cy) ** 2 <= r * r
    elif outline == "square":
        inside = (np.abs(xs - cx) <= r * 0.886) & (np.abs(ys - cy) <= r * 0.886)  # a circle's area
    else:  # a triangle, apex up
        top = cy - r
        inside = (ys >= top) & (ys <= cy + r) & (np.abs(xs - cx) <= (ys - top) * 0.5)
    return np.asarray(inside.reshape(h, ss, w, ss).mean(axis=(1, 3)), dtype=np.float32)


def _ground(rng: np.random.Generator, kind: str, h: int, w: int) -> np.ndarray:
    """A float32 (h, w, 3) ground: plain, a gradient, or a gradient with a soft texture."""
    c0 = rng.uniform(25, 230, 3)
    if kind == "plain":
        return np.broadcast_to(c0, (h, w, 3)).astype(np.float32).copy()
    c1 = np.clip(c0 + rng.uniform(-70, 70, 3), 0, 255)
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    ramp = (np.cos(angle) * xx / w + np.sin(angle) * yy / h + 1) / 2
    ground = c0 + (c1 - c0) * ramp[..., None]
    if kind == "textured":
        amp, px, py = rng.uniform(5, 14), rng.uniform(4, 10), rng.uniform(4, 10)
        wave = amp * np.sin(xx / px + rng.uniform(0, 6)) * np.cos(yy / py)
        ground = ground + wave[..., None]
    return np.asarray(np.clip(ground, 0, 255), dtype=np.float32)


def _far_colour(rng: np.random.Generator, ground: np.ndarray, avoid: np.ndarray | None = None) -> np.ndarray:
    """A colour at least 110 (RGB distance) from every ground colour (and 130 from ``avoid``)."""
    sample = ground[::4, ::4].reshape(-1, 3)
    best, best_d = rng.uniform(0, 255, 3), -1.0
    for _ in range(200):
        colour = rng.choice([0.0, 255.0], 3) * rng.uniform(0.75, 1.0, 3) + rng.uniform(0, 60, 3)
        colour = np.clip(colour, 0, 255)
        d = float(np.linalg.norm(sample - colour, axis=1).min())
        if avoid is not None and np.linalg.norm(colour - avoid) < 130:
            continue
        if d >= 110:
            return colour
        if d > best_d:
            best, best_d = colour, d
    return best


def _bounce(p: np.ndarray, lo: float, hi: float) -> np.ndarray:
    span = hi - lo
    q = np.mod(p - lo, 2 * span)
    return lo + np.where(q > span, 2 * span - q, q)


@dataclass
class _Actor:
    outline: str
    colour: np.ndarray
    x: np.ndarray  # per frame, canvas pixels
    y: np.ndarray
    r: np.ndarray
    visible: np.ndarray
    turn: np.ndarray | None = None  # radians, per frame


def _render(
    ground: np.ndarray,
    actors: list[_Actor],
    shift: np.ndarray,
    noise: float,
    h: int,
    w: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Frames seen by a camera whose window over ``ground`` (the canvas) is offset by ``shift[t]``."""
    import cv2

    frames = np.empty((len(shift), h, w, 3), dtype=np.uint8)
    for t, (dx, dy) in enumerate(shift):
        m = np.array([[1, 0, -dx], [0, 1, -dy]], dtype=np.float32)
        view: np.ndarray = cv2.warpAffine(  # type: ignore[assignment]
            ground, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
        )
        for a in actors:
            if a.visible[t]:
                turn = 0.0 if a.turn is None else float(a.turn[t])
                alpha = coverage(a.outline, a.x[t] - dx, a.y[t] - dy, a.r[t], h, w, turn)[..., None]
                view = view + (a.colour - view) * alpha
        if noise:
            view = view + rng.normal(0, noise, view.shape)
        frames[t] = np.clip(view, 0, 255).round().astype(np.uint8)
    return frames


def _scene(
    rng: np.random.Generator, size: int, frames: int, *, drift: bool, exits: bool = False
) -> tuple[np.ndarray, _Actor, np.ndarray, float]:
    """A ground, a moving subject on it, the camera path and the noise level."""
    kind = rng.choice(["plain", "gradient", "textured"])
    margin = size // 4
    ground = _ground(rng, str(kind), size + 2 * margin, size + 2 * margin)
    t = np.arange(frames, dtype=np.float32)
    cam = rng.uniform(-0.12, 0.12, 2) * size / frames * (1.0 if drift else 0.0)
    shift = margin + np.outer(t, cam) + (rng.uniform(-3, 3, 2) if drift else 0.0)
    r0 = rng.uniform(0.06, 0.13) * size
    zoom = rng.uniform(-0.35, 0.7) if rng.random() < 0.35 else 0.0
    r = r0 * (1 + zoom * t / max(frames - 1, 1))
    speed = rng.uniform(0.0, 0.015) * size if rng.random() > 0.15 else 0.0
    angle = rng.uniform(0, 2 * np.pi)
    follow = rng.random() < 0.3  # the camera follows the subject (else it stays put in the world)
    travel = 0.0 if follow else float(np.abs(shift - shift[0]).max())
    lo, hi = r.max() + 2 + travel, size - r.max() - 2 - travel
    x0, y0 = rng.uniform(0.3, 0.7, 2) * size
    x, y = x0 + speed * np.cos(angle) * t, y0 + speed * np.sin(angle) * t
    if exits:
        x = x0 + np.sign(np.cos(angle)) * max(speed, 0.02 * size) * t * 1.5
    else:
        x, y = _bounce(x, lo, hi), _bounce(y, lo, hi)
    anchor = shift if follow else np.broadcast_to(shift[0], shift.shape)
    x, y = x + anchor[:, 0], y + anchor[:, 1]  # to canvas coordinates
    colour = _far_colour(rng, ground)
    spin = rng.uniform(0.03, 0.1) * rng.choice([-1, 1]) if rng.random() < 0.3 else 0.0
    turn = rng.uniform(0, np.pi) + spin * t  # some subjects turn as they go
    subject = _Actor(str(rng.choice(OUTLINES)), colour, x, y, r, np.ones(frames, dtype=bool), turn)
    noise = float(rng.choice([0.0, 0.0, 3.0, 6.0]))
    return ground, subject, shift, noise


def subject_clip(seed: int, defect: str | None = None, *, size: int = 96, frames: int = 33) -> Clip:
    """A clean clip, or one whose subject is ``"changed"`` or ``"lost"`` mid-shot."""
    rng = np.random.default_rng(seed)
    exits = defect is None and rng.random() < 0.2
    ground, subject, shift, noise = _scene(rng, size, frames, drift=rng.random() < 0.7, exits=exits)
    actors = [subject]
    r = np.full(frames, subject.r.min() * rng.uniform(0.3, 0.45))
    px, py = rng.choice([0.15, 0.85], 2) * size + shift[0]
    apart = np.hypot(subject.x - px, subject.y - py).min() > subject.r.max() + r[0] + 4
    if rng.random() < 0.25 and apart:  # a smaller, still second object, off the subject's path
        actors.append(
            _Actor(
                str(rng.choice(OUTLINES)),
                _far_colour(rng, ground),
                np.full(frames, px),
                np.full(frames, py),
                r,
                subject.visible.copy(),
            )
        )
    where = None
    k = int(rng.integers(frames * 3 // 10, frames * 6 // 10))
    if defect == "changed":
        how = str(rng.choice(["outline", "colour", "size", "outline+colour"]))
        if "outline" in how:
            options = [
                o for o in OUTLINES if o != subject.outline and {o, subject.outline} != {"circle", "square"}
            ]
            new = _Actor(
                str(rng.choice(options)),
                subject.colour,
                subject.x,
                subject.y,
                subject.r,
                subject.visible.copy(),
            )
        else:
            new = _Actor(
                subject.outline,
                subject.colour,
                subject.x,
                subject.y,
                subject.r.copy(),
                subject.visible.copy(),
            )
        if "colour" in how:
            new.colour = _far_colour(rng, ground, avoid=subject.colour)
        if how == "size":
            new.r = subject.r * (rng.uniform(1.5, 1.9) if rng.random() < 0.5 else rng.uniform(0.5, 0.65))
        subject.visible[k:] = False
        new.visible[:k] = False
        actors.append(new)
        where = (k - 1, k)
    elif defect == "lost":
        end = frames if rng.random() < 0.3 else min(frames, k + int(rng.integers(4, 12)))
        subject.visible[k:end] = False
        where = (k, end - 1)
    clip = _render(ground, actors, shift, noise, size, size, rng)
    return Clip(clip, defect, where, info={"noise": noise})


def sync_clip(seed: int, drift: bool, *, size: int = 64, frames: int = 49) -> Clip:
    """A subject at rest that starts to move, with a sound at that moment (``drift``: 200-500 ms off);
    some clean clips pan from the first frame (no visual onset: not judged)."""
    rng = np.random.default_rng(10_000 + seed)
    fps = float(rng.choice([16.0, 24.0, 25.0]))
    ground = _ground(rng, str(rng.choice(["plain", "gradient", "textured"])), size, size)
    t0 = rng.uniform(0.6, 1.1)
    times = np.arange(frames) / fps
    moving = np.maximum(0.0, times - t0)
    speed = rng.uniform(0.15, 0.35) * size  # per second
    angle = rng.uniform(0, 2 * np.pi)
    r = np.full(frames, rng.uniform(0.08, 0.14) * size)
    lo, hi = r[0] + 2, size - r[0] - 2
    x0, y0 = rng.uniform(0.35, 0.65, 2) * size
    x = _bounce(x0 + speed * np.cos(angle) * moving, lo, hi)
    y = _bounce(y0 + speed * np.sin(angle) * moving, lo, hi)
    subject = _Actor(
        str(rng.choice(OUTLINES)), _far_colour(rng, ground), x, y, r, np.ones(frames, dtype=bool)
    )
    pan = np.zeros((frames, 2))
    if not drift and rng.random() < 0.25:  # the camera pans from the first frame: no onset to judge
        pan = np.outer(np.arange(frames), rng.uniform(-0.5, 0.5, 2))
    video = _render(ground, [subject], pan, float(rng.choice([0.0, 3.0, 6.0])), size, size, rng)
    offset = rng.uniform(0.2, 0.5) * rng.choice([-1, 1]) if drift else rng.uniform(-0.04, 0.04)
    rate = int(rng.choice([16000, 44100, 48000]))
    events = [t0 + offset] + ([t0 + offset + rng.uniform(0.6, 0.9)] if rng.random() < 0.3 else [])
    audio = _sound(rng, rate, frames / fps, events)
    info = {"offset_ms": offset * 1000, "events_ms": [(e - t0) * 1000 for e in events]}
    return Clip(video, "av_drift" if drift else None, None, audio, rate, fps, info)


def _sound(rng: np.random.Generator, rate: int, seconds: float, events: list[float]) -> np.ndarray:
    """A quiet room (noise, sometimes mains hum) with a percussive or tonal event at each time."""
    n = round(rate * seconds)
    t = np.arange(n) / rate
    audio = rng.normal(0, rng.uniform(0.002, 0.01), n)
    if rng.random() < 0.5:
        audio += 0.01 * np.sin(2 * np.pi * 60 * t)
    for at in events:
        local = t - at
        on = local >= 0
        attack = rng.uniform(0.003, 0.015)
        envelope = np.where(
            on, np.minimum(1.0, local / attack) * np.exp(-np.maximum(local, 0) / rng.uniform(0.08, 0.3)), 0.0
        )
        if rng.random() < 0.5:
            source = rng.normal(0, 1, n) * 0.5
        else:
            source = np.sin(2 * np.pi * rng.uniform(150, 900) * t)
        audio += rng.uniform(0.3, 0.7) * envelope * source
    return np.clip(audio, -1, 1).astype(np.float32)[None, :]


def hierarchy_clip(seed: int, cluttered: bool, *, size: int = 96, frames: int = 9) -> Clip:
    """One or two subjects (clean), or 6-12 comparably loud blobs scattered over the ground."""
    rng = np.random.default_rng(20_000 + seed)
    ground, subject, shift, noise = _scene(rng, size, frames, drift=rng.random() < 0.7)
    actors = [subject]
    count = int(rng.integers(6, 13)) if cluttered else int(rng.integers(0, 2))
    spots: list[tuple[float, float]] = [(subject.x[0] - shift[0, 0], subject.y[0] - shift[0, 1])]
    r = (rng.uniform(0.04, 0.06) if cluttered else rng.uniform(0.04, 0.08)) * size
    for _ in range(count):
        for _ in range(100):
            px, py = rng.uniform(r + 2, size - r - 2, 2)
            clear = [
                np.hypot(px - sx, py - sy) > 3.2 * r + subject.r.max() * (i == 0)
                for i, (sx, sy) in enumerate(spots)
            ]
            if all(clear):
                break
        spots.append((px, py))
        colour = _far_colour(rng, ground)
        radius = np.full(frames, r * rng.uniform(0.8, 1.2))
        actors.append(
            _Actor(
                str(rng.choice(OUTLINES)),
                colour,
                np.full(frames, px) + shift[:, 0],
                np.full(frames, py) + shift[:, 1],
                radius,
                np.ones(frames, dtype=bool),
            )
        )
    if cluttered:
        subject.r = subject.r * 0 + r * rng.uniform(0.9, 1.3)
    clip = _render(ground, actors, shift, noise, size, size, rng)
    return Clip(clip, "cluttered" if cluttered else None, (0, frames - 1) if cluttered else None)


def continuity_pair(seed: int, defect: str | None = None, *, size: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """(last frame of shot A, first frame of shot B): the same scene a moment later (clean), or
    with a ``"lighting"`` jump, a ``"colour"`` cast or ``"subject"`` (another one in its place)."""
    rng = np.random.default_rng(30_000 + seed)
    frames = 9
    ground, subject, shift, noise = _scene(rng, size, frames, drift=True)
    zoom = rng.uniform(0.85, 1.25)
    later = _Actor(
        subject.outline,
        subject.colour,
        subject.x + rng.uniform(-6, 6),
        subject.y + rng.uniform(-6, 6),
        subject.r * zoom,
        subject.visible.copy(),
    )
    if defect == "subject":
        later.colour = _far_colour(rng, ground, avoid=subject.colour)
        later.outline = str(rng.choice(OUTLINES))
    a = _render(ground, [subject], shift[:1], noise, size, size, rng)[0]
    b_shift = shift[-1:] + rng.uniform(-4, 4, 2)
    b = _render(ground, [later], b_shift, noise, size, size, rng)[-1].astype(np.float32)
    if defect == "lighting":
        delta = rng.uniform(45, 90) * (-1 if b.mean() > 128 else 1)
        b = b + delta
    elif defect == "colour":
        cast = rng.normal(0, 1, 3)
        b = b + cast / np.linalg.norm(cast) * rng.uniform(80, 110)
    return a, np.clip(b, 0, 255).round().astype(np.uint8)
