"""Server-rendered SVG bar charts: no script and no CDN, readable on a phone.

A suppressed value (``"<5"``) is drawn as an outlined bar at the threshold's height, labelled
as published, so a chart never shows more than the table it comes from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from reporting.suppression import Cell


@dataclass(frozen=True)
class Bar:
    label: str
    value: Cell | float | None


def bar_chart(bars: Sequence[Bar], *, threshold: int, width: int = 320) -> str:
    """Horizontal bars, one row per label, as an inline SVG string."""
    row, label_width = 22, 110
    numbers = [_height(b.value, threshold) for b in bars]
    top = max(numbers, default=0) or 1
    height = row * max(len(bars), 1) + 4
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">'
    ]
    room = width - label_width - 40
    for i, (bar, number) in enumerate(zip(bars, numbers, strict=True)):
        y = i * row + 2
        length = max(1.0, room * number / top) if number else 0
        hidden = isinstance(bar.value, str)
        style = 'class="bar hidden"' if hidden else 'class="bar"'
        shown = "–" if bar.value is None else escape(str(bar.value))
        parts.append(
            f'<text x="0" y="{y + 15}" class="label">{escape(bar.label[:16])}</text>'
            f'<rect {style} x="{label_width}" y="{y + 3}" width="{length:.1f}" height="{row - 8}"/>'
            f'<text x="{label_width + length + 4:.1f}" y="{y + 15}" class="value">{shown}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _height(value: Cell | float | None, threshold: int) -> float:
    if value is None:
        return 0.0
    if isinstance(value, str):
        return float(threshold)
    return float(value)
