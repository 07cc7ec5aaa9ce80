"""Server-rendered SVG charts for ranges. Each bar is solid up to the lower bound and hatched from
there to the upper bound; an open upper bound runs to the edge with a '+'. No JavaScript, no CDN."""

from __future__ import annotations

from html import escape

from shieldwall.ads.aggregates import RangeSum


def money(value: float | None, currency: str | None = None) -> str:
    if value is None:
        return "unbounded"
    text = f"{value:,.0f}"
    return f"{text} {currency}" if currency else text


def range_text(lower: float, upper: float | None, currency: str | None = None) -> str:
    if upper is not None and lower == upper:
        return money(lower, currency)
    if upper is None:
        return f"≥ {money(lower, currency)}"
    return f"{money(lower, '')}–{money(upper, currency)}"


def range_bars(title: str, rows: list[RangeSum], width: int = 640) -> str:
    """Horizontal range bars, one row per label (e.g. region or demographic)."""
    label_width, bar_height, gap = 200, 18, 8
    plot = width - label_width - 150
    height = 30 + len(rows) * (bar_height + gap)
    top = max([r.upper if r.upper is not None else r.lower for r in rows] + [1.0])
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
        _defs(),
        f'<text x="0" y="16" class="chart-title" font-weight="bold">{escape(title)}</text>',
    ]
    if not rows:
        parts.append('<text x="0" y="40">no data</text>')
    for i, row in enumerate(rows):
        y = 28 + i * (bar_height + gap)
        lower_w = plot * row.lower / top
        upper_w = plot if row.upper is None else plot * row.upper / top
        label = f"{row.label} ({row.currency})" if row.currency else row.label
        parts.append(f'<text x="0" y="{y + 13}" font-size="12">{escape(label[:32])}</text>')
        parts.append(
            f'<rect class="range-upper" x="{label_width}" y="{y}" width="{upper_w:.1f}" height="{bar_height}" '
            f'fill="url(#hatch)" stroke="#5b7db1"/>'
        )
        parts.append(
            f'<rect class="range-lower" x="{label_width}" y="{y}" width="{lower_w:.1f}" height="{bar_height}" '
            f'fill="#2f5597"><title>{escape(range_text(row.lower, row.upper, row.currency))}</title></rect>'
        )
        parts.append(
            f'<text x="{label_width + plot + 6}" y="{y + 13}" font-size="12">'
            f"{escape(range_text(row.lower, row.upper, row.currency))}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def range_columns(title: str, rows: list[RangeSum], width: int = 640, height: int = 240) -> str:
    """Vertical range columns over time (label = month)."""
    margin_bottom, margin_top = 40, 28
    plot_h = height - margin_bottom - margin_top
    n = max(len(rows), 1)
    step = (width - 20) / n
    top = max([r.upper if r.upper is not None else r.lower for r in rows] + [1.0])
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
        _defs(),
        f'<text x="0" y="16" font-weight="bold">{escape(title)}</text>',
        f'<line x1="10" y1="{height - margin_bottom}" x2="{width - 10}" y2="{height - margin_bottom}" stroke="#999"/>',
    ]
    if not rows:
        parts.append('<text x="10" y="60">no data</text>')
    for i, row in enumerate(rows):
        x = 10 + i * step + step * 0.15
        w = step * 0.7
        upper_h = plot_h if row.upper is None else plot_h * row.upper / top
        lower_h = plot_h * row.lower / top
        base = height - margin_bottom
        tip = escape(f"{row.label}: {range_text(row.lower, row.upper, row.currency)}")
        parts.append(
            f'<rect class="range-upper" x="{x:.1f}" y="{base - upper_h:.1f}" width="{w:.1f}" height="{upper_h:.1f}" '
            f'fill="url(#hatch)" stroke="#5b7db1"><title>{tip}</title></rect>'
        )
        parts.append(
            f'<rect class="range-lower" x="{x:.1f}" y="{base - lower_h:.1f}" width="{w:.1f}" height="{lower_h:.1f}" '
            f'fill="#2f5597"><title>{tip}</title></rect>'
        )
        if n <= 24 or i % max(n // 12, 1) == 0:
            parts.append(f'<text x="{x:.1f}" y="{base + 14}" font-size="10">{escape(row.label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _defs() -> str:
    return (
        '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="6" height="6" fill="#dbe5f4"/>'
        '<line x1="0" y1="0" x2="0" y2="6" stroke="#5b7db1" stroke-width="2"/></pattern></defs>'
    )
