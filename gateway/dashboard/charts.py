"""Tiny server-rendered bar charts (no JavaScript, no chart library).

HTML, not SVG: an SVG scales its text with its width, and on a phone the labels shrank to 7 px. Here
the labels are text at the page's own size and only the bars stretch.
"""

from __future__ import annotations

from html import escape

__all__ = ["bar_chart"]


def bar_chart(points: list[tuple[str, float]], *, unit: str = "credits") -> str:
    """Horizontal bars, one per (label, value), labelled with the value."""
    if not points:
        return '<p class="muted">Nothing yet.</p>'
    top = max(v for _, v in points) or 1.0
    rows = []
    for label, value in points:
        share = max(0.5, 100 * value / top)
        named = unit if value != 1 else unit.removesuffix("s")
        rows.append(
            f'<span class="chart-label">{escape(label)}</span>'
            f'<span class="chart-track"><span class="chart-bar" style="width: {share:.1f}%"></span></span>'
            f'<span class="chart-value">{value:g} {escape(named)}</span>'
        )
    return f'<div class="chart" role="img" aria-label="{escape(unit)} chart">' + "".join(rows) + "</div>"
