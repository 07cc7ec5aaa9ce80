"""Run the real app under uvicorn in a background thread, on a free loopback port."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import uvicorn

from shieldwall.config import load_settings
from shieldwall.web.app import create_app
from tests.support.postgres import free_port


class LiveServer:
    def __init__(self, database_url: str, data_dir: Path, **settings: object) -> None:
        self.settings = load_settings(database_url=database_url, data_dir=str(data_dir), **settings)
        self.app = create_app(self.settings)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.time() + 20
        while not self.server.started:
            if time.time() > deadline or not self.thread.is_alive():
                raise RuntimeError("the live server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.app.state.database.dispose()
