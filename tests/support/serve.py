"""The hub's own processes for fault and concurrency tests: `shieldwall serve` and `shieldwall ads import` as
subprocesses on a test database (so they can be killed with SIGKILL), TAXII writers that keep what the server
acknowledged, and ad files made from the real Snap file."""

from __future__ import annotations

import csv
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import orjson

from tests.support.hub import indicator
from tests.support.postgres import free_port

TAXII = "application/taxii+json;version=2.1"
CLI = [sys.executable, "-c", "from shieldwall.cli import main; main()"]
STARTUP_S = 120  # importing the app takes seconds, far longer when the shared machine is loaded


def hub_env(database_url: str, data_dir: Path) -> dict[str, str]:
    data_dir.mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        "SHIELDWALL_DATABASE_URL": database_url,
        "SHIELDWALL_DATA_DIR": str(data_dir),
        "SHIELDWALL_RATE_LIMIT_PER_MINUTE": "100000000",  # the writers here are not what is measured
        "COLUMNS": "200",
    }


class Serve:
    """`shieldwall serve` on a free loopback port."""

    def __init__(self, database_url: str, data_dir: Path) -> None:
        self.env = hub_env(database_url, data_dir)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir / f"serve-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> Serve:
        self._log = self.log_path.open("ab")
        command = [*CLI, "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        self.process = subprocess.Popen(command, env=self.env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + STARTUP_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited with {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"serve did not come up in {STARTUP_S} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""

    def kill(self) -> None:
        """As `kill -9`: no shutdown, no cleanup."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self._close_log()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=20)
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


def start_cli(database_url: str, data_dir: Path, *args: str) -> subprocess.Popen[bytes]:
    """A `shieldwall` command in its own process; its output is read with communicate()."""
    return subprocess.Popen(
        [*CLI, *args], env=hub_env(database_url, data_dir), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def snap_file(source: Path, target: Path, count: int, salt: str = "") -> Path:
    """`count` rows of the real Snap file (`source`), repeated as needed; rows past its first copy, and all of
    them when `salt` is given, get new ad ids, so every row is a distinct ad."""
    with source.open(newline="", encoding="utf-8") as handle:
        header, *rows = list(csv.reader(handle))
    with target.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        for i in range(count):
            row = list(rows[i % len(rows)])
            copy = i // len(rows)
            if copy or salt:
                row[0] = hashlib.sha256(f"{salt}:{copy}:{row[0]}".encode()).hexdigest()
            writer.writerow(row)
    return target


@dataclass
class Writers:
    """Threads POSTing envelopes of new indicators to a TAXII collection until stopped (or until the server
    goes away). `acknowledged`: ids of every envelope answered 202 with status complete and all successes."""

    objects_url: str
    token: str
    threads: int = 4
    bundle: int = 50
    answers: Counter[int] = field(default_factory=Counter)
    transport_errors: list[str] = field(default_factory=list)
    acknowledged: set[str] = field(default_factory=set)
    incomplete: list[dict[str, Any]] = field(default_factory=list)
    stop_on_transport_error: bool = False

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._workers = [threading.Thread(target=self._run, daemon=True) for _ in range(self.threads)]

    def start(self) -> Writers:
        for worker in self._workers:
            worker.start()
        return self

    def stop(self) -> Writers:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=120)
        return self

    @property
    def posts(self) -> int:
        with self._lock:
            return sum(self.answers.values())

    def _run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": TAXII, "Accept": TAXII}
        with httpx.Client(timeout=120) as client:
            while not self._stop.is_set():
                objects = [indicator(f"http://load-{time.monotonic_ns()}-{i}.example/") for i in range(self.bundle)]
                try:
                    response = client.post(
                        self.objects_url, content=orjson.dumps({"objects": objects}), headers=headers
                    )
                except httpx.TransportError as error:
                    with self._lock:
                        self.transport_errors.append(f"{type(error).__name__}: {error}")
                    if self.stop_on_transport_error:
                        return
                    time.sleep(0.2)
                    continue
                with self._lock:
                    self.answers[response.status_code] += 1
                    if response.status_code != 202:
                        continue
                    status = orjson.loads(response.content)
                    if status.get("status") == "complete" and status.get("success_count") == len(objects):
                        self.acknowledged.update(o["id"] for o in objects)
                    else:
                        self.incomplete.append(status)


def walk_ids(base_url: str, collection_id: str, token: str) -> list[str]:
    """Every object id in a collection, by TAXII pages of 1,000 and `next`."""
    url = f"{base_url}/taxii2/hub/collections/{collection_id}/objects/"
    headers = {"Authorization": f"Bearer {token}", "Accept": TAXII}
    ids: list[str] = []
    params: dict[str, Any] = {"limit": 1000}
    with httpx.Client(timeout=120) as client:
        while True:
            response = client.get(url, params=params, headers=headers)
            assert response.status_code == 200, response.text[:300]
            body = orjson.loads(response.content)
            ids += [o["id"] for o in body.get("objects") or []]
            if not body.get("more"):
                return ids
            params = {"limit": 1000, "next": body["next"]}


def poll_ids(base_url: str, collection_id: str, token: str, added_after: str = "") -> list[str]:
    """Every object id an incremental poller gets, following X-TAXII-Date-Added-Last until nothing is new."""
    url = f"{base_url}/taxii2/hub/collections/{collection_id}/objects/"
    headers = {"Authorization": f"Bearer {token}", "Accept": TAXII}
    ids: list[str] = []
    with httpx.Client(timeout=120) as client:
        while True:
            params: dict[str, Any] = {"limit": 1000, **({"added_after": added_after} if added_after else {})}
            response = client.get(url, params=params, headers=headers)
            assert response.status_code == 200, response.text[:300]
            found = orjson.loads(response.content).get("objects") or []
            if not found:
                return ids
            ids += [o["id"] for o in found]
            added_after = response.headers["X-TAXII-Date-Added-Last"]
