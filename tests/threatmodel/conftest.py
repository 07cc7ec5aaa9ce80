from __future__ import annotations

import pytest

from shieldwall.store.db import Database
from tests.support.hub import Hub, seed_hub
from tests.support.live import LiveServer


@pytest.fixture
def hub(database: Database) -> Hub:
    return seed_hub(database)


@pytest.fixture
def live_hub(live_server: LiveServer) -> Hub:
    return seed_hub(live_server.app.state.database)
