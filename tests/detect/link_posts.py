"""Posts that each share one link: the smallest input for tests of pairing, clustering and evidence."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa

Row = tuple[str, int, str]  # account, unix seconds, url


def link_posts(rows: list[Row]) -> pa.Table:
    """A posts table (the contract's columns) with one post per row."""
    return pa.table(
        {
            "post_id": [f"p{i}" for i in range(len(rows))],
            "account_id": [r[0] for r in rows],
            "created_at": pa.array([datetime.fromtimestamp(r[1], UTC) for r in rows], pa.timestamp("us", tz="UTC")),
            "text": pa.array([None] * len(rows), pa.string()),
            "urls": pa.array([[r[2]] for r in rows], pa.list_(pa.string())),
            "reshare_of": pa.array([None] * len(rows), pa.string()),
            "hashtags": pa.array([[] for _ in rows], pa.list_(pa.string())),
            "media_pdq": pa.array([[] for _ in rows], pa.list_(pa.string())),
        }
    )
