from __future__ import annotations

import pytest

from shieldwall.store.db import Database
from tests.support.hub import Hub, seed_hub
from tests.support.live import LiveServer


@pytest.fixture
def hub(live_server: LiveServer) -> Hub:
    database: Database = live_server.app.state.database
    return seed_hub(database)
