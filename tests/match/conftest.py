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
