"""Tiny server-rendered SVG bar charts (no JavaScript, no chart library)."""

from __future__ import annotations

from html import escape

__all__ = ["bar_chart"]


def bar_chart(
    points: list[tuple[str, float]], *, unit: str = "credits", width: int = 560, bar: int = 22
) -> str:
    """Horizontal bars, one per (label, value), labelled with the value."""
    if not points:
        return '<p class="muted">Nothing yet.</p>'
    top = max(v for _, v in points) or 1.0
    label_w, value_w = 120, 120  # room for "1234.567 credits" after the longest bar
    span = width - label_w - value_w
    height = len(points) * (bar + 8)
    rows = []
    for i, (label, value) in enumerate(points):
        y = i * (bar + 8)
        w = max(1.0, span * value / top)
        rows.append(
            f'<text x="0" y="{y + bar * 0.7:.0f}" class="chart-label">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar}" rx="3" class="chart-bar"/>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + bar * 0.7:.0f}" class="chart-value">'
            f"{value:g} {escape(unit if value != 1 else unit.removesuffix('s'))}</text>"
        )
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(unit)} chart">'
        + "".join(rows)
        + "</svg>"
    )
