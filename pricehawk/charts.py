"""Server-side SVG price charts: no JavaScript, no CDN, safe to inline in a page."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from html import escape


def price_chart_svg(
    points: Sequence[tuple[datetime, Decimal]],
    *,
    currency: str = "",
    width: int = 640,
    height: int = 240,
    title: str = "Price history",
) -> str:
    """A step line of prices over time with min/max labels; an empty-state SVG when no data."""
    pad_left, pad_right, pad_top, pad_bottom = 64, 16, 16, 32
    inner_w, inner_h = width - pad_left - pad_right, height - pad_top - pad_bottom
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(title)}" class="price-chart">'
        f"<title>{escape(title)}</title>"
    )
    if not points:
        return (
            f'{head}<text x="{width / 2}" y="{height / 2}" text-anchor="middle">'
            "No prices recorded yet</text></svg>"
        )
    ordered = sorted(points)
    t0, t1 = ordered[0][0].timestamp(), ordered[-1][0].timestamp()
    low = min(p for _, p in ordered)
    high = max(p for _, p in ordered)
    span_t = (t1 - t0) or 1.0
    span_p = float(high - low) or max(float(high), 1.0) * 0.1

    def x(t: datetime) -> float:
        return pad_left + (t.timestamp() - t0) / span_t * inner_w

    def y(p: Decimal) -> float:
        return pad_top + (1 - (float(p - low) / span_p)) * inner_h

    # A step line: a price holds until the next observation says otherwise.
    coords: list[str] = []
    for i, (t, p) in enumerate(ordered):
        if i:
            coords.append(f"{x(t):.1f},{y(ordered[i - 1][1]):.1f}")
        coords.append(f"{x(t):.1f},{y(p):.1f}")
    if len(ordered) == 1:
        coords.append(f"{pad_left + inner_w:.1f},{y(ordered[0][1]):.1f}")
    unit = f" {escape(currency)}" if currency else ""
    return (
        f"{head}"
        f'<line x1="{pad_left}" y1="{pad_top + inner_h}" x2="{pad_left + inner_w}" '
        f'y2="{pad_top + inner_h}" stroke="#999"/>'
        f'<text x="{pad_left - 6}" y="{y(high) + 4:.1f}" text-anchor="end" font-size="12">'
        f"{high:.2f}{unit}</text>"
        f'<text x="{pad_left - 6}" y="{y(low) + 4:.1f}" text-anchor="end" font-size="12">'
        f"{low:.2f}{unit}</text>"
        f'<text x="{pad_left}" y="{height - 8}" font-size="12">'
        f"{ordered[0][0]:%Y-%m-%d}</text>"
        f'<text x="{pad_left + inner_w}" y="{height - 8}" text-anchor="end" font-size="12">'
        f"{ordered[-1][0]:%Y-%m-%d}</text>"
        f'<polyline fill="none" stroke="#1f6feb" stroke-width="2" points="{" ".join(coords)}"/>'
        "</svg>"
    )
