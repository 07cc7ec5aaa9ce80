"""The exchange under load from a bulk job: TAXII POST throughput and latency while a 100k-row ads import runs.

Issue 11 found that a CLI ads import beside 16 TAXII clients took POSTs from 45.6/s to 1.5/s (p99 38.9 s) and
answered one POST with a 500. This starts `shieldwall serve` (a subprocess, real HTTP on loopback) on SQLite
and on PostgreSQL, and on each measures, in turn:

1. alone: C clients, each POSTing envelopes of 100 new TLP:GREEN indicators back to back, for S seconds
   (after a warm-up of the same kind);
2. the import alone: `ads import --format snap` of N rows (the real Snap file, repeated with new ad ids) in a
   process of its own, as the CLI runs it: its duration and how long each of its transactions held the lock;
3. both: the same clients POSTing for as long as another N-row import runs beside them;
4. (SQLite, full runs) both again, the import written the way it was before issue 11 (one transaction per
   20,000-row batch, no pause between them, waiting for the lock in SQLite's busy handler). The code of that
   time cannot run against today's schema, so the same code runs with those settings (BEFORE).

Every phase also runs one incremental poller (GET objects/?added_after=the last page's X-TAXII-Date-Added-Last,
pages of 1,000), as TAXII clients sync. Reported per phase: POSTs/s and objects/s, POST p50/p99/max, every
non-202 answer and transport error (the goal: no 5xx, no error at all), the poller's p99 and errors; then
checks that every acknowledged object (202, status complete, success_count 100) is in the database and was
seen by the poller.

`python -m bench.exchange_under_load [--quick] [--no-postgres] [--no-before]`; lines go to
bench/results/exchange_under_load.txt.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import select

from bench.exchange_servers import TAXII, ShieldwallServer
from bench.exchange_taxii import indicators
from bench.report import Report

REPO = Path(__file__).resolve().parents[1]
SNAP_FILE = REPO.parent / "shared" / "data" / "ads" / "snapchat-political-ads-2019-2020.csv"
BUNDLE = 100


@dataclass(frozen=True)
class Sizes:
    clients: int
    seconds: float  # the POST-only phase
    rows: int  # per import
    warmup: float  # POSTs before anything is measured


FULL = Sizes(clients=16, seconds=30, rows=100_000, warmup=15)
QUICK = Sizes(clients=8, seconds=5, rows=3_000, warmup=2)


# ---------------------------------------------------------------------------------------------- ads rows


def snap_rows(count: int, salt: str, folder: Path) -> Path:
    """`count` rows of the real Snap political-ads file, repeated as often as needed; every row past the
    first copy gets a new ad id (a hash of the old one and `salt`), so each import creates `count` ads."""
    with SNAP_FILE.open(newline="", encoding="utf-8") as handle:
        header, *rows = list(csv.reader(handle))
    path = folder / f"snap-{salt}-{count}.csv"
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        for i in range(count):
            row = list(rows[i % len(rows)])
            row[0] = hashlib.sha256(f"{salt}:{i // len(rows)}:{row[0]}".encode()).hexdigest()
            writer.writerow(row)
    return path


# The import as `shieldwall ads import` runs it (same settings, same audited function), in its own process;
# prints its duration, its summary and how long each transaction held the write lock. With BEFORE set, its
# transactions are laid out as before issue 11.
IMPORT = r"""
import json, os, sys, time
from pathlib import Path
from shieldwall.config import load_settings
from shieldwall.store.db import Database
from shieldwall.ads import importing
from shieldwall.ads.archive import lock_archive
from shieldwall.ads.editing import CONSOLE, audited_import

if os.environ.get("BENCH_BEFORE") == "1":
    importing.FIRST_CHUNK = importing.SMALLEST_CHUNK = importing.LARGEST_CHUNK = 20_000
    importing.ROOM_BUSY = importing.ROOM_IDLE = importing.CHECKPOINT_SECONDS = 0.0
    importing.ChunkWriter._lock = lambda self, session: lock_archive(session)
settings = load_settings()
database = Database(settings.database_url)
started = time.perf_counter()
result = audited_import(database, CONSOLE, [Path(sys.argv[1])], "snap")
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "summary": result.summary(), "holds": getattr(result, "holds", [])}))
"""


@dataclass
class ImportRun:
    process: subprocess.Popen[bytes]
    started: float
    output: Path

    def wait(self) -> dict[str, Any]:
        code = self.process.wait()
        text = self.output.read_text()
        if code != 0:
            raise RuntimeError(f"the import exited {code}:\n{text[-3000:]}")
        outcome: dict[str, Any] = json.loads(text.strip().splitlines()[-1])
        outcome["wall"] = time.perf_counter() - self.started
        return outcome


def start_import(server: ShieldwallServer, rows: Path, work: Path, before: bool = False) -> ImportRun:
    env = {
        **os.environ,
        "SHIELDWALL_DATA_DIR": str(server.data_dir),
        "SHIELDWALL_DATABASE_URL": server.database_url,
        "BENCH_BEFORE": "1" if before else "0",
    }
    output = work / f"import-{rows.stem}.out"
    with output.open("wb") as handle:
        process = subprocess.Popen(
            [sys.executable, "-c", IMPORT, str(rows)], env=env, stdout=handle, stderr=subprocess.STDOUT, cwd=work
        )
    return ImportRun(process, time.perf_counter(), output)


# ------------------------------------------------------------------------------------------------ load


@dataclass
class Load:
    """What the clients saw in one phase."""

    latencies: list[float] = field(default_factory=list)  # seconds per POST answered 202
    answers: Counter[int] = field(default_factory=Counter)  # every HTTP status
    transport_errors: list[str] = field(default_factory=list)
    acknowledged: set[str] = field(default_factory=set)
    incomplete: int = 0  # 202s whose status was not complete with every object a success
    poll_latencies: list[float] = field(default_factory=list)
    poll_errors: list[str] = field(default_factory=list)
    polled: set[str] = field(default_factory=set)
    seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def posts(self) -> int:
        return sum(self.answers.values())

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.answers.items() if status >= 500)


def _poster(server: ShieldwallServer, load: Load, stop: threading.Event, index: int) -> None:
    url = f"{server.collection_url}objects/"
    headers = {"Content-Type": TAXII, "Accept": TAXII}
    serial = index * 10_000_000
    with httpx.Client(auth=server.auth, timeout=300) as client:
        while not stop.is_set():
            objects = indicators(BUNDLE, start=serial)
            serial += BUNDLE
            started = time.perf_counter()
            try:
                response = client.post(url, content=orjson.dumps({"objects": objects}), headers=headers)
            except httpx.HTTPError as error:
                with load.lock:
                    load.transport_errors.append(f"{type(error).__name__}: {error}")
                continue
            elapsed = time.perf_counter() - started
            ok = False
            if response.status_code == 202:
                status = orjson.loads(response.content)
                ok = status.get("status") == "complete" and status.get("success_count") == BUNDLE
            with load.lock:
                load.answers[response.status_code] += 1
                if response.status_code == 202:
                    load.latencies.append(elapsed)
                    if ok:
                        load.acknowledged.update(o["id"] for o in objects)
                    else:
                        load.incomplete += 1


def _poller(server: ShieldwallServer, load: Load, done: threading.Event, since: datetime) -> None:
    """Incremental sync as a TAXII client does it; once the writers are `done`, polls until it has caught up."""
    url = f"{server.collection_url}objects/"
    added_after = since.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    quiet = 0
    with httpx.Client(auth=server.auth, headers={"Accept": TAXII}, timeout=300) as client:
        while quiet < 2:
            started = time.perf_counter()
            try:
                response = client.get(url, params={"added_after": added_after, "limit": 1000})
            except httpx.HTTPError as error:
                load.poll_errors.append(f"{type(error).__name__}: {error}")
                time.sleep(0.5)
                continue
            load.poll_latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                load.poll_errors.append(f"HTTP {response.status_code}: {response.text[:200]}")
                time.sleep(0.5)
                continue
            body = orjson.loads(response.content)
            found = body.get("objects") or []
            load.polled.update(o["id"] for o in found)
            if found:
                added_after = response.headers["X-TAXII-Date-Added-Last"]
            elif done.is_set():
                quiet += 1  # two empty answers after the last writer's last answer: caught up
            if not body.get("more"):
                time.sleep(0.2)


def run_load(server: ShieldwallServer, clients: int, until: Any) -> Load:
    """`clients` POSTing threads and one poller until `until()` returns (a sleep, or an import's end)."""
    load = Load()
    stop, done = threading.Event(), threading.Event()
    since = datetime.now(UTC) - timedelta(seconds=1)
    posters = [threading.Thread(target=_poster, args=(server, load, stop, i), daemon=True) for i in range(clients)]
    poller = threading.Thread(target=_poller, args=(server, load, done, since), daemon=True)
    started = time.perf_counter()
    for thread in [*posters, poller]:
        thread.start()
    try:
        until()
    finally:
        stop.set()
        for thread in posters:  # each finishes the POST it has in flight
            thread.join(timeout=600)
        load.seconds = time.perf_counter() - started
        done.set()
        poller.join(timeout=600)
    return load


def analyze(database_url: str) -> str:
    """PostgreSQL: ANALYZE, as autovacuum does after many new rows; what was done, for the report."""
    if not database_url.startswith("postgresql"):
        return ""
    from sqlalchemy import text

    from shieldwall.store.db import Database

    database = Database(database_url)
    try:
        with database.session() as session:
            session.execute(text("ANALYZE"))
    finally:
        database.dispose()
    return ", then ANALYZE"


def stored_ids(database_url: str, collection_id: str) -> set[str]:
    from shieldwall.exchange.tables import StixObject
    from shieldwall.store.db import Database

    database = Database(database_url)
    try:
        with database.session() as session:
            query = select(StixObject.stix_id).where(
                StixObject.collection_id == collection_id, StixObject.is_deleted.is_(False)
            )
            return set(session.scalars(query))
    finally:
        database.dispose()


# -------------------------------------------------------------------------------------------- reporting


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def report_load(report: Report, label: str, load: Load, server: ShieldwallServer) -> bool:
    """The phase's lines; True when it met the goals (no error of any kind, nothing acknowledged missing)."""
    posts, objects = load.posts, len(load.acknowledged)
    others = {s: n for s, n in sorted(load.answers.items()) if s != 202}
    report.line(
        f"  {label}: {posts:,} POSTs in {load.seconds:.1f} s = {posts / load.seconds:.1f} POST/s "
        f"({objects / load.seconds:,.0f} objects/s acknowledged); POST p50 {ms(pct(load.latencies, 50))}, "
        f"p99 {ms(pct(load.latencies, 99))}, max {ms(max(load.latencies, default=0))}"
    )
    assert server.hub is not None
    stored = stored_ids(server.database_url, server.hub.collection_id)
    missing = load.acknowledged - stored
    unseen = load.acknowledged - load.polled
    report.line(
        f"  {label}: answers other than 202: {others or 'none'} ({load.server_errors} 5xx), "
        f"{len(load.transport_errors)} transport errors, {load.incomplete} incomplete statuses; "
        f"acknowledged objects missing from the database: {len(missing)} of {objects:,}; "
        f"poller: {len(load.poll_latencies):,} GETs, p99 {ms(pct(load.poll_latencies, 99))}, "
        f"{len(load.poll_errors)} errors, acknowledged objects it never saw: {len(unseen)}"
    )
    for error in (load.transport_errors + load.poll_errors)[:3]:
        report.line(f"    e.g. {error[:200]}")
    return not (others or load.transport_errors or load.incomplete or missing or unseen or load.poll_errors)


def report_import(report: Report, label: str, outcome: dict[str, Any], rows: int) -> None:
    holds: list[float] = outcome["holds"]
    seconds = outcome["seconds"]
    line = f"  {label}: {rows:,} rows in {seconds:.1f} s = {rows / seconds:,.0f} rows/s ({outcome['summary']})"
    if holds:
        line += (
            f"; {len(holds):,} write transactions holding the lock p50 {ms(statistics.median(holds))}, "
            f"p99 {ms(pct(holds, 99))}, max {ms(max(holds))}"
        )
    report.line(line)


# ------------------------------------------------------------------------------------------------ phases


@contextmanager
def serving(work: Path, database_url: str = "") -> Iterator[ShieldwallServer]:
    server = ShieldwallServer(work, database_url).start()
    try:
        yield server
    finally:
        server.stop()


def backend(
    report: Report, name: str, sizes: Sizes, work: Path, files: list[Path], before: bool, url: str = ""
) -> bool:
    ok = True
    with serving(work, url) as server:
        report.line(
            f"{name}: `shieldwall serve` (1 worker), {sizes.clients} clients POSTing envelopes of {BUNDLE} "
            f"new indicators over HTTP, one incremental poller; imports of {sizes.rows:,} Snap rows in a process "
            "of their own"
        )
        # A fresh server and database warm up first. PostgreSQL then gets the statistics its autovacuum would
        # soon gather: on a table that grew from nothing it plans as if it were empty (measured without this:
        # 5.3 POST/s, p99 15 s, until autovacuum's ANALYZE ran during the next phase).
        warm = run_load(server, sizes.clients, lambda: time.sleep(sizes.warmup))
        analyzed = analyze(server.database_url)
        report.line(f"  warm-up (not measured): {warm.posts:,} POSTs in {warm.seconds:.1f} s{analyzed}")
        alone = run_load(server, sizes.clients, lambda: time.sleep(sizes.seconds))
        ok &= report_load(report, "POSTs alone", alone, server)

        outcome = start_import(server, files[0], work).wait()
        report_import(report, "import alone", outcome, sizes.rows)

        running = start_import(server, files[1], work)
        beside = run_load(server, sizes.clients, running.process.wait)
        outcome = running.wait()
        ok &= report_load(report, "POSTs beside the import", beside, server)
        report_import(report, "import beside the POSTs", outcome, sizes.rows)
        if alone.posts and beside.posts:
            rate = (beside.posts / beside.seconds) / (alone.posts / alone.seconds)
            report.line(f"  POST rate beside the import: {rate:.0%} of alone")

        if before:
            running = start_import(server, files[2], work, before=True)
            load = run_load(server, sizes.clients, running.process.wait)
            outcome = running.wait()
            report_load(report, "POSTs beside the import laid out as before (one transaction per batch)", load, server)
            report_import(report, "import laid out as before, beside the POSTs", outcome, sizes.rows)
    return ok


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    quick = "--quick" in args
    sizes = QUICK if quick else FULL
    report = Report("exchange_under_load")
    if not SNAP_FILE.is_file():
        report.line(f"exchange under load: the Snap file {SNAP_FILE} is missing; skipped")
        return
    load_average = os.getloadavg()[0]
    report.line(
        f"exchange under load ({'quick' if quick else 'full'}): {os.cpu_count()} cores, load average "
        f"{load_average:.1f} at the start (a shared machine: other work runs beside it)"
    )
    with tempfile.TemporaryDirectory(prefix="bench-under-load-") as tmp:
        work = Path(tmp)
        before = not quick and "--no-before" not in args
        files = [snap_rows(sizes.rows, salt, work) for salt in ("a", "b", "c", "d", "e")]
        ok = backend(report, "sqlite", sizes, work / "sqlite", files[:3], before)
        if "--no-postgres" not in args:
            from tests.support.postgres import PostgresServer, find_bindir

            bindir = find_bindir()
            if bindir is None:
                report.line("postgresql: no PostgreSQL server installed; skipped")
            else:
                postgres = PostgresServer(bindir)
                postgres.start()
                try:
                    url = postgres.create_database("under_load")
                    name = "postgresql (the tests' throwaway server: fsync and synchronous_commit off)"
                    ok &= backend(report, name, sizes, work / "postgresql", files[3:], False, url)
                finally:
                    postgres.stop()
        verdict = "met" if ok else "NOT met"
        report.line(f"goal (no error of any kind, every acknowledged object stored and polled): {verdict}")
    report.save()


if __name__ == "__main__":
    main()
