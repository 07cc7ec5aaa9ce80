"""The servers the TAXII benchmark drives: Shieldwall (`shieldwall serve` as a subprocess, on SQLite or
PostgreSQL, with a seeded hub) and the OASIS reference server medallion 3.0.0 (in-memory backend) in a
venv of its own, because it wants different Flask-era dependencies from ours.

No `main()` here: `python -m bench` runs only modules that have one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import IO, Any

import httpx
from tests.support.hub import Hub, seed_hub
from tests.support.postgres import free_port

from shieldwall.store.db import Database
from shieldwall.store.migrate import upgrade

TAXII = "application/taxii+json;version=2.1"
MEDALLION_VENV = Path(__file__).resolve().parent / ".venv-medallion"
MEDALLION_REQUIREMENT = "medallion==3.0.0"
# So the rate limiter (a feature measured elsewhere) never throttles the load test.
UNTHROTTLED = 100_000_000
# Importing the app takes seconds, and far longer when other work loads this 2-core machine.
STARTUP_TIMEOUT_S = 300


def _wait_until_up(url: str, auth: tuple[str, str], process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.time() + STARTUP_TIMEOUT_S
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}; see {log}:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(url, auth=auth, headers={"Accept": TAXII}, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server at {url} did not come up in {STARTUP_TIMEOUT_S} s; see {log}")


def _stop(process: subprocess.Popen[bytes], log_handle: IO[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)
    log_handle.close()


class ShieldwallServer:
    """`shieldwall serve` on a free loopback port with a migrated, seeded database (SQLite by default)."""

    def __init__(self, work_dir: Path, database_url: str = "", workers: int = 1, hub: Hub | None = None) -> None:
        """With `hub`, serve the existing database that hub was seeded into; else migrate and seed one."""
        self.workers = workers
        self.data_dir = work_dir / "shieldwall-data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.database_url = database_url or f"sqlite:///{self.data_dir / 'shieldwall.db'}"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = work_dir / f"shieldwall-{self.port}.log"
        self.hub: Hub | None = hub
        self._process: subprocess.Popen[bytes] | None = None
        self._log_handle: IO[bytes] | None = None

    def start(self) -> ShieldwallServer:
        if self.hub is None:
            upgrade(self.database_url)
            database = Database(self.database_url)
            try:
                self.hub = seed_hub(database)
            finally:
                database.dispose()
        env = {
            **os.environ,
            "SHIELDWALL_DATA_DIR": str(self.data_dir),
            "SHIELDWALL_DATABASE_URL": self.database_url,
            "SHIELDWALL_RATE_LIMIT_PER_MINUTE": str(UNTHROTTLED),
        }
        script = Path(sys.executable).parent / "shieldwall"
        command = (
            [str(script)] if script.exists() else [sys.executable, "-c", "from shieldwall.cli import main; main()"]
        )
        self._log_handle = self.log.open("wb")
        self._process = subprocess.Popen(
            [*command, "serve", "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers)],
            env=env,
            stdout=self._log_handle,
            stderr=subprocess.STDOUT,
        )
        _wait_until_up(f"{self.url}/taxii2/", self.auth, self._process, self.log)
        return self

    @property
    def token(self) -> str:
        assert self.hub is not None
        return self.hub.tokens["chirp"]  # an analyst of a member platform: may write the hub collection

    @property
    def auth(self) -> tuple[str, str]:
        return ("chirp", self.token)

    @property
    def collection_url(self) -> str:
        assert self.hub is not None
        return f"{self.url}/taxii2/hub/collections/{self.hub.collection_id}/"

    def stop(self) -> None:
        if self._process is not None and self._log_handle is not None:
            _stop(self._process, self._log_handle)
            self._process = None


def ensure_medallion_venv(venv: Path = MEDALLION_VENV) -> Path:
    """The medallion executable, installing medallion into its own venv on first use."""
    executable = venv / "bin" / "medallion"
    if executable.exists():
        return executable
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check", MEDALLION_REQUIREMENT],
        check=True,
    )
    if not executable.exists():
        raise RuntimeError(f"installing {MEDALLION_REQUIREMENT} into {venv} left no {executable}")
    return executable


class MedallionServer:
    """medallion 3.0.0 as shipped (its own `medallion` script: Flask's threaded server), in-memory backend,
    one API root with one empty read/write collection, one Basic-auth user."""

    USER = "bench"
    API_ROOT = "bench"

    def __init__(self, work_dir: Path, executable: Path) -> None:
        self.work_dir = work_dir
        self.executable = executable
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.password = uuid.uuid4().hex
        self.collection_id = str(uuid.uuid4())
        self.log = work_dir / f"medallion-{self.port}.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._log_handle: IO[bytes] | None = None

    def _write_config(self) -> Path:
        root = f"{self.url}/{self.API_ROOT}/"
        data: dict[str, Any] = {
            "/discovery": {"title": "medallion", "default": root, "api_roots": [root]},
            self.API_ROOT: {
                "information": {"title": "bench", "versions": [TAXII], "max_content_length": 100 * 1024 * 1024},
                "status": [],
                "collections": [
                    {
                        "id": self.collection_id,
                        "title": "bench",
                        "can_read": True,
                        "can_write": True,
                        "media_types": ["application/stix+json;version=2.1"],
                        "objects": [],
                        "manifest": [],
                    }
                ],
            },
        }
        data_file = self.work_dir / "medallion-data.json"
        data_file.write_text(json.dumps(data))
        config = {
            "backend": {
                "module": "medallion.backends.memory_backend",
                "module_class": "MemoryBackend",
                "filename": str(data_file),
                # Its `next` sessions expire after 30 s by default; its first page of 10,000 takes longer.
                "session_timeout": 24 * 3600,
            },
            "users": {self.USER: self.password},
            "taxii": {"max_page_size": 1000},
        }
        config_file = self.work_dir / "medallion-config.json"
        config_file.write_text(json.dumps(config))
        return config_file

    def start(self) -> MedallionServer:
        config = self._write_config()
        self._log_handle = self.log.open("wb")
        self._process = subprocess.Popen(
            [str(self.executable), "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "WARN", str(config)],
            stdout=self._log_handle,
            stderr=subprocess.STDOUT,
        )
        _wait_until_up(f"{self.url}/taxii2/", self.auth, self._process, self.log)
        return self

    @property
    def auth(self) -> tuple[str, str]:
        return (self.USER, self.password)

    @property
    def collection_url(self) -> str:
        return f"{self.url}/{self.API_ROOT}/collections/{self.collection_id}/"

    def stop(self) -> None:
        if self._process is not None and self._log_handle is not None:
            _stop(self._process, self._log_handle)
            self._process = None
