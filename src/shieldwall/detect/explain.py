"""Plain-language explanation of why a cluster looks coordinated."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from shieldwall.detect.settings import DetectSettings

SIGNAL_PHRASES = {
    "co_link": ("shared the same links", "links"),
    "co_domain": ("shared links to the same little-shared websites", "websites"),
    "co_reshare": ("reshared the same posts", "original posts"),
    "near_text": ("posted near-identical texts", "texts"),
    "media": ("posted the same pictures (PDQ hash match)", "pictures"),
    "co_hashtags": ("used the same sequences of hashtags", "hashtag sequences"),
    "co_hashtag": ("used the same hashtags", "hashtags"),
    "co_object": ("shared the same objects", "objects"),
    "sync_timing": ("posted in the same seconds", "time slots"),
}


def _minutes(seconds: int) -> str:
    return f"{seconds} seconds" if seconds < 120 else f"{seconds // 60} minutes"


class _Stat(Protocol):
    signal: str
    k: int
    expected: float


def explain_cluster(
    n_accounts: int,
    signals: Sequence[_Stat],
    items: Mapping[tuple[str, str], Mapping[str, Any]],
    cluster_id: str,
    settings: DetectSettings,
) -> str:
    parts = []
    for s in sorted(signals, key=lambda s: -s.k):
        signal = s.signal
        phrase, noun = SIGNAL_PHRASES.get(signal, (signal, "items"))
        info = items.get((cluster_id, signal), {})
        example = str(info.get("example") or "")
        if len(example) > 80:
            example = example[:77] + "..."
        count = int(info.get("items", 0) or 0)
        expected = s.expected
        parts.append(
            f"{phrase} within {_minutes(settings.window(signal))} of each other: {s.k} times on "
            f"{count} {noun}"
            + (f" (e.g. {example})" if example else "")
            + f", where chance alone would give about {expected:.2g}"
        )
    if not parts:
        return f"{n_accounts} accounts linked by repeated co-actions."
    return (
        f"{n_accounts} accounts " + "; they also ".join(parts) + ". Expected counts come from how popular each "
        "item is and how active each account is, so viral items and busy accounts do not count as coordination."
    )
