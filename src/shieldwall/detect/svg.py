"""Server-side SVG pictures for the report: the co-action network and one timeline per cluster."""

from __future__ import annotations

import random
from datetime import datetime
from html import escape
from typing import Any

import igraph as ig
import numpy as np
import pyarrow as pa

PALETTE = ("#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#bcbd22")
SIGNAL_COLOURS = {
    "co_link": "#1f77b4",
    "co_domain": "#17becf",
    "co_reshare": "#2ca02c",
    "near_text": "#d62728",
    "media": "#9467bd",
    "co_hashtags": "#ff7f0e",
    "co_hashtag": "#bcbd22",
    "sync_timing": "#8c564b",
    "co_object": "#e377c2",
}
MAX_NODES = 600


def network_svg(edges: pa.Table, membership: pa.Table, width: int = 900, height: int = 600, seed: int = 42) -> str:
    """Accounts as dots coloured by cluster, significant co-action edges as lines."""
    clustered = edges.filter(pa.compute.is_valid(edges.column("cluster_id")))
    if clustered.num_rows == 0:
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="80">'
            '<text x="10" y="40">No clusters.</text></svg>'
        )
    cluster_of = dict(
        zip(membership.column("account_id").to_pylist(), membership.column("cluster_id").to_pylist(), strict=True)
    )
    names = sorted(set(clustered.column("src").to_pylist()) | set(clustered.column("dst").to_pylist()))[:MAX_NODES]
    index = {name: i for i, name in enumerate(names)}
    pairs = [
        (index[a], index[b])
        for a, b in zip(clustered.column("src").to_pylist(), clustered.column("dst").to_pylist(), strict=True)
        if a in index and b in index
    ]
    graph = ig.Graph(n=len(names), edges=pairs)
    random.seed(seed)  # igraph's layouts draw from Python's RNG: seeding makes the picture reproducible
    ig.set_random_number_generator(random)
    layout = np.array(graph.layout_fruchterman_reingold(niter=300).coords) if names else np.zeros((0, 2))
    span = np.ptp(layout, axis=0)
    span[span == 0] = 1
    xy = (layout - layout.min(axis=0)) / span * [width - 40, height - 40] + 20
    colour = {
        c: PALETTE[i % len(PALETTE)] for i, c in enumerate(sorted(set(cluster_of.values()), key=lambda c: int(c[1:])))
    }
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="network" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="co-action network">'
    ]
    for a, b in pairs:
        parts.append(
            f'<line x1="{xy[a, 0]:.1f}" y1="{xy[a, 1]:.1f}" x2="{xy[b, 0]:.1f}" y2="{xy[b, 1]:.1f}" '
            'stroke="#999" stroke-opacity="0.35" stroke-width="0.7"/>'
        )
    for name, i in index.items():
        cluster = cluster_of.get(name, "")
        parts.append(
            f'<circle cx="{xy[i, 0]:.1f}" cy="{xy[i, 1]:.1f}" r="4" fill="{colour.get(cluster, "#666")}">'
            f"<title>{escape(name)} ({escape(cluster)})</title></circle>"
        )
    parts.append("</svg>")
    return "".join(parts)


def timeline_svg(rows: list[dict[str, Any]], width: int = 900) -> str:
    """One row per signal; a dot per post in the cluster's evidence, at its time."""
    signals = sorted({r["signal"] for r in rows})
    times = [t for r in rows for t in r["times"]]
    if not times:
        return ""
    start, end = min(times).timestamp(), max(times).timestamp()
    span = max(end - start, 1.0)
    row_height, left = 22, 110
    height = row_height * len(signals) + 30
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="timeline">'
    ]
    for i, signal in enumerate(signals):
        y = 15 + i * row_height
        parts.append(
            f'<text x="4" y="{y + 4}" font-size="11">{escape(signal)}</text>'
            f'<line x1="{left}" x2="{width - 10}" y1="{y}" y2="{y}" stroke="#ddd"/>'
        )
        for r in (r for r in rows if r["signal"] == signal):
            for t in r["times"]:
                x = left + (t.timestamp() - start) / span * (width - left - 20)
                parts.append(
                    f'<circle cx="{x:.1f}" cy="{y}" r="3" fill="{SIGNAL_COLOURS.get(signal, "#333")}" '
                    f'fill-opacity="0.6"><title>{escape(_fmt(t))} {escape(str(r["label"])[:80])}</title></circle>'
                )
    y = height - 6
    parts.append(
        f'<text x="{left}" y="{y}" font-size="10">{escape(_fmt(min(times)))}</text>'
        f'<text x="{width - 10}" y="{y}" font-size="10" text-anchor="end">{escape(_fmt(max(times)))}</text></svg>'
    )
    return "".join(parts)


def _fmt(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S UTC")
