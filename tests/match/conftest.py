from __future__ import annotations

from collections.abc import Iterator

import pytest

from shieldwall.match.service import matchers


@pytest.fixture(autouse=True)
def fresh_matchers() -> Iterator[None]:
    """Matcher snapshots are cached per database URL; tests reuse file names, so start clean."""
    matchers.clear()
    yield
    matchers.clear()


@pytest.fixture(autouse=True)
def no_background_hub_sync(monkeypatch: pytest.MonkeyPatch) -> None:
    """Live servers would sync hub banks in the background: tests that sync by hand turn it off."""
    monkeypatch.setenv("SHIELDWALL_MATCH_HUB_SYNC_SECONDS", "off")
