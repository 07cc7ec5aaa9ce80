"""TAXII 2.1 benchmark: Shieldwall against the OASIS reference server medallion 3.0.0, same run, same machine.

1. The same N indicators (distinct patterns, TLP:GREEN-marked) POSTed in bundles of 1,000 and read back
   paged by 1,000, both servers driven by the OASIS taxii2-client. Shieldwall runs as `shieldwall serve`
   on SQLite and validates every object; medallion uses its in-memory backend.
2. Page latency (limit=1000 and limit=100) at the start, middle and end of the collection (`next`
   cursors collected by walking it), at 10,000 and at 1,000,000 objects.
3. p50/p99 of `GET .../objects/?limit=100` under 16 concurrent clients for 30 s, SQLite and PostgreSQL.

`python -m bench.exchange_taxii [--quick]`; lines go to bench/results/exchange_taxii.txt.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import httpx
import orjson
from sqlalchemy import func, insert, select
from taxii2client.v21 import Collection, as_pages

from bench.exchange_servers import TAXII, MedallionServer, ShieldwallServer, ensure_medallion_venv
from bench.report import Report
from shieldwall.exchange import objects as store
from shieldwall.exchange.auth import principal_for_token
from shieldwall.exchange.tables import Collection as CollectionRow
from shieldwall.exchange.tables import StixObject
from shieldwall.stix import timestamps
from shieldwall.stix.tlp import TLP
from shieldwall.stix.validate import validate_objects
from shieldwall.store.db import Database


@dataclass(frozen=True)
class Sizes:
    objects: int  # the head-to-head collection
    bundle: int
    page: int
    big: int  # the collection size for the flat-page check
    clients: int
    seconds: float
    repeats: int  # requests per (limit, position) latency figure
    ingest_budget_s: float  # how long validated ingest may take while growing to `big`


FULL = Sizes(
    objects=10_000, bundle=1_000, page=1_000, big=1_000_000, clients=16, seconds=30.0, repeats=25, ingest_budget_s=300
)
QUICK = Sizes(
    objects=2_000, bundle=1_000, page=1_000, big=50_000, clients=16, seconds=5.0, repeats=5, ingest_budget_s=20
)


# ------------------------------------------------------------------------------------------------ data


def indicators(count: int, start: int = 0, tlp: TLP = TLP.GREEN) -> list[dict[str, Any]]:
    """Distinct, valid STIX 2.1 indicators, each carrying a TLP marking."""
    marking = [tlp.marking_id]
    return [
        {
            "type": "indicator",
            "spec_version": "2.1",
            "id": f"indicator--{uuid.uuid4()}",
            "created": "2026-10-01T10:00:00.000Z",
            "modified": "2026-10-01T10:00:00.000Z",
            "name": f"Known disinformation URL #{i}",
            "description": "Domain seen pushing fabricated claims about polling-station closures.",
            "indicator_types": ["malicious-activity"],
            "pattern": f"[url:value = 'http://polls-closed-{i}.example/vote/{i % 97}']",
            "pattern_type": "stix",
            "valid_from": "2026-10-01T10:00:00Z",
            "object_marking_refs": marking,
        }
        for i in range(start, start + count)
    ]


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for begin in range(0, len(items), size):
        yield items[begin : begin + size]


# ------------------------------------------------------------------------------------ taxii2-client runs


def taxii_post(collection: Collection, objects: Sequence[dict[str, Any]], bundle: int) -> float:
    """Seconds to POST all objects in bundles through taxii2-client; every object must be accepted."""
    started = time.perf_counter()
    for part in chunks(objects, bundle):
        status = collection.add_objects({"objects": list(part)})
        if status.success_count != len(part) or status.failure_count:
            raise RuntimeError(f"{collection.url}: {status.failure_count} failures, e.g. {status.failures[:1]}")
    return time.perf_counter() - started


def taxii_get_all(collection: Collection, per_request: int, expected_ids: set[str]) -> float:
    """Seconds to read every object through taxii2-client's as_pages; the ids read must be the ids posted."""
    started = time.perf_counter()
    seen: list[str] = []
    for envelope in as_pages(collection.get_objects, per_request=per_request):
        seen.extend(o["id"] for o in envelope.get("objects", []))
    elapsed = time.perf_counter() - started
    if len(seen) != len(expected_ids) or set(seen) != expected_ids:
        raise RuntimeError(
            f"{collection.url}: read {len(seen)} objects ({len(set(seen))} distinct), expected {len(expected_ids)}"
        )
    return elapsed


def client_for(url: str, auth: tuple[str, str]) -> Collection:
    return Collection(url, user=auth[0], password=auth[1])


# -------------------------------------------------------------------------------------- page latencies


def http_client(auth: tuple[str, str]) -> httpx.Client:
    return httpx.Client(auth=auth, headers={"Accept": TAXII}, timeout=120)


def get_page(client: httpx.Client, url: str, limit: int, cursor: str | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"limit": limit}
    if cursor:
        params["next"] = cursor
    response = client.get(f"{url}objects/", params=params)
    response.raise_for_status()
    body: dict[str, Any] = orjson.loads(response.content)
    return body


@dataclass
class Walk:
    """A full walk of a collection by `next`: page times, and the cursors of the middle and last pages."""

    objects: int
    seconds: float
    page_ms: list[float]
    middle: str | None
    end: str | None


def walk(client: httpx.Client, url: str, limit: int) -> Walk:
    cursors: list[str | None] = [None]
    page_ms: list[float] = []
    count = 0
    started = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        body = get_page(client, url, limit, cursors[-1])
        page_ms.append((time.perf_counter() - t0) * 1000)
        count += len(body.get("objects", []))
        if not body.get("more"):
            break
        cursors.append(body["next"])
    seconds = time.perf_counter() - started
    return Walk(count, seconds, page_ms, cursors[len(cursors) // 2], cursors[-1])


def median_ms(client: httpx.Client, url: str, limit: int, cursor: str | None, repeats: int) -> float:
    get_page(client, url, limit, cursor)  # warm: the first request after a bulk load reads pages from disk
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        body = get_page(client, url, limit, cursor)
        times.append((time.perf_counter() - t0) * 1000)
        if len(body.get("objects", [])) != limit:
            raise RuntimeError(f"page of {limit} returned {len(body.get('objects', []))} objects")
    return statistics.median(times)


PositionTimes = dict[tuple[int, str], float]


def page_latencies(client: httpx.Client, url: str, w: Walk, limits: Sequence[int], repeats: int) -> PositionTimes:
    out: PositionTimes = {}
    for limit in limits:
        for name, cursor in (("start", None), ("middle", w.middle), ("end", w.end)):
            out[(limit, name)] = median_ms(client, url, limit, cursor, repeats)
    return out


# ------------------------------------------------------------------------------------------- load test


@dataclass
class LoadResult:
    latencies_ms: list[float]
    errors: int
    seconds: float

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def load_test(url: str, auth: tuple[str, str], clients: int, seconds: float, limit: int = 100) -> LoadResult:
    """`clients` threads, each with its own connection, GET the first page of `limit` objects in a loop
    until the deadline (loopback only; bounded in time and in count)."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    max_requests = 2_000_000 // clients
    barrier = threading.Barrier(clients + 1)
    deadline = [0.0]

    def run(index: int) -> None:
        with http_client(auth) as client:
            get_page(client, url, limit)  # connect and warm before the clock starts
            barrier.wait()
            mine = latencies[index]
            while time.perf_counter() < deadline[0] and len(mine) < max_requests:
                t0 = time.perf_counter()
                response = client.get(f"{url}objects/", params={"limit": limit})
                elapsed = (time.perf_counter() - t0) * 1000
                if response.status_code == 200 and response.content.startswith(b'{"more":'):
                    mine.append(elapsed)
                else:
                    errors[index] += 1

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    deadline[0] = time.perf_counter() + seconds + 3600  # set properly once every client is connected
    barrier.wait()
    started = time.perf_counter()
    deadline[0] = started + seconds
    for t in threads:
        t.join(timeout=seconds + 120)
    return LoadResult([x for xs in latencies for x in xs], sum(errors), time.perf_counter() - started)


# --------------------------------------------------------------------------------------- growing to 1M


@dataclass
class Growth:
    ingested: int
    ingest_seconds: float
    bulk: int
    bulk_seconds: float


def grow(
    database_url: str,
    token: str,
    collection_id: str,
    target: int,
    start_index: int,
    budget_s: float,
    batch: int = 10_000,
) -> Growth:
    """Add objects until the collection holds `target`: through `exchange.objects.ingest` (validated,
    exactly as a POST stores them) in batches of 10,000 while the projected time fits the budget, the rest
    by a SQLAlchemy bulk insert of the same rows ingest would write (no validation, no audit entry)."""
    database = Database(database_url)
    try:
        with database.session() as session:
            principal, _ = principal_for_token(session, token)
            have = int(session.scalar(select(func.count()).where(StixObject.collection_id == collection_id)) or 0)
        growth = Growth(0, 0.0, 0, 0.0)
        index = start_index
        while have < target:
            size = min(batch, target - have)
            projected = growth.ingest_seconds / growth.ingested * (target - have) if growth.ingested else 0.0
            if growth.ingested and growth.ingest_seconds + projected > budget_s:
                break
            objects = indicators(size, start=index)
            t0 = time.perf_counter()
            with database.session() as session:
                collection = session.get(CollectionRow, collection_id)
                assert collection is not None
                result = store.ingest(session, principal, collection, objects)
            growth.ingest_seconds += time.perf_counter() - t0
            if result.failures:
                raise RuntimeError(f"ingest rejected {len(result.failures)} objects, e.g. {result.failures[0]}")
            growth.ingested += size
            have += size
            index += size
        if have < target:
            t0 = time.perf_counter()
            bulk_insert(database, collection_id, principal.org_id, target - have, index)
            growth.bulk_seconds = time.perf_counter() - t0
            growth.bulk = target - have
        return growth
    finally:
        database.dispose()


def bulk_insert(database: Database, collection_id: str, org_id: int | None, count: int, start_index: int) -> None:
    step = 50_000
    with database.session() as session:
        last = session.scalar(select(func.max(StixObject.date_added)).where(StixObject.collection_id == collection_id))
    date_added = max(int(time.time() * 1_000_000), (last or 0) + 1)
    for begin in range(0, count, step):
        objects = indicators(min(step, count - begin), start=start_index + begin)
        rows = []
        for obj in objects:
            rows.append(
                {
                    "collection_id": collection_id,
                    "stix_id": obj["id"],
                    "stix_type": obj["type"],
                    "spec_version": "2.1",
                    "modified": timestamps.canonical(obj["modified"]),
                    "date_added": date_added,
                    "tlp": int(TLP.GREEN),
                    "publisher_org_id": org_id,
                    "is_latest": True,
                    "is_first": True,
                    "is_deleted": False,
                    "name": obj["name"],
                    "search_text": " ".join((obj["name"], obj["description"], obj["pattern"])).lower(),
                    "body": orjson.dumps(obj).decode(),
                }
            )
            date_added += 1
        with database.session() as session:  # one transaction per 50,000 rows
            session.execute(insert(StixObject), rows)


# --------------------------------------------------------------------------------------------- running


def ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}x" if b > 0 else "n/a"


class SavedReport(Report):
    """Saves after every line, so a run cut short (deadline, a server failing) still leaves its figures."""

    def line(self, text: str) -> None:
        super().line(text)
        self.save()


class Startable(Protocol):
    def start(self) -> Any: ...
    def stop(self) -> None: ...


S = TypeVar("S", bound=Startable)


@contextmanager
def running(server: S) -> Iterator[S]:
    """Start a server and always stop it, also when starting it failed half-way."""
    try:
        server.start()
        yield server
    finally:
        server.stop()


def validation_cost(report: Report, objects: list[dict[str, Any]]) -> None:
    sample = objects[:500]
    t0 = time.perf_counter()
    valid, invalid = validate_objects(sample)
    per_object = (time.perf_counter() - t0) * 1000 / len(sample)
    assert not invalid and len(valid) == len(sample), invalid[:1]
    report.line(f"context: shieldwall.stix.validate on {len(sample)} of these indicators: {per_object:.2f} ms/object")


def head_to_head(report: Report, sizes: Sizes, work: Path, shieldwall: ShieldwallServer) -> list[dict[str, Any]]:
    objects = indicators(sizes.objects)
    ids = {o["id"] for o in objects}
    validation_cost(report, objects)
    n = f"{sizes.objects:,}"

    sw = client_for(shieldwall.collection_url, shieldwall.auth)
    sw_post = taxii_post(sw, objects, sizes.bundle)
    sw_get = taxii_get_all(sw, sizes.page, ids)

    executable = ensure_medallion_venv()
    with running(MedallionServer(work, executable)) as medallion:
        md = client_for(medallion.collection_url, medallion.auth)
        md_post = taxii_post(md, objects, sizes.bundle)
        md_get = taxii_get_all(md, sizes.page, ids)

    post_sw, post_md = sizes.objects / sw_post, sizes.objects / md_post
    get_sw, get_md = sizes.objects / sw_get, sizes.objects / md_get
    report.line(
        f"POST {n} indicators in bundles of {sizes.bundle:,} (taxii2-client): Shieldwall/SQLite, every object "
        f"validated {post_sw:,.0f} objects/s ({sw_post:.1f} s); medallion 3.0.0 in-memory {post_md:,.0f} objects/s "
        f"({md_post:.1f} s); ratio {ratio(post_sw, post_md)} (goal >=3x)"
    )
    report.line(
        f"GET all {n} paged by {sizes.page:,} (taxii2-client as_pages): Shieldwall/SQLite {get_sw:,.0f} objects/s "
        f"({sw_get:.2f} s); medallion {get_md:,.1f} objects/s ({md_get:.1f} s); ratio {ratio(get_sw, get_md)} "
        f"(goal >=100x)"
    )
    return objects


def report_walk(report: Report, label: str, w: Walk) -> None:
    ms = sorted(w.page_ms)
    report.line(
        f"walk of {label} by next, limit=1000 (httpx): {w.objects:,} objects in {w.seconds:.1f} s = "
        f"{w.objects / w.seconds:,.0f} objects/s; page ms p50 {statistics.median(ms):.1f}, "
        f"p99 {ms[min(len(ms) - 1, int(0.99 * len(ms)))]:.1f}, first {w.page_ms[0]:.1f}, last {w.page_ms[-1]:.1f}"
    )


def report_positions(report: Report, label: str, times: PositionTimes, limits: Sequence[int]) -> None:
    for limit in limits:
        report.line(
            f"page latency at {label}, limit={limit} (median ms): start {times[(limit, 'start')]:.1f}, "
            f"middle {times[(limit, 'middle')]:.1f}, end {times[(limit, 'end')]:.1f}"
        )


def report_load(report: Report, label: str, result: LoadResult, clients: int) -> None:
    report.line(
        f"{clients} concurrent clients, GET objects/?limit=100 for {result.seconds:.0f} s, {label}: "
        f"p50 {result.percentile(0.50):.1f} ms, p99 {result.percentile(0.99):.1f} ms, "
        f"{len(result.latencies_ms) / result.seconds:,.0f} requests/s, {result.errors} errors"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.exchange_taxii", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a few seconds per figure")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    report = SavedReport("exchange_taxii")
    report.line(
        f"sizes: {sizes.objects:,} objects head to head, {sizes.big:,} for the flat-page check, {sizes.clients} "
        f"clients x {sizes.seconds:.0f} s{' (--quick)' if args.quick else ''}; load average at start "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    limits = (1000, 100)
    with tempfile.TemporaryDirectory(prefix="bench-taxii-") as tmp:
        work = Path(tmp)
        with running(ShieldwallServer(work / "sqlite")) as sqlite:
            head_to_head(report, sizes, work, sqlite)

            with http_client(sqlite.auth) as client:
                small_walk = walk(client, sqlite.collection_url, 1000)
                small = page_latencies(client, sqlite.collection_url, small_walk, limits, sizes.repeats)
            report_walk(report, f"{sizes.objects:,} (SQLite)", small_walk)
            report_positions(report, f"{sizes.objects:,} objects (SQLite)", small, limits)

            load = load_test(sqlite.collection_url, sqlite.auth, sizes.clients, sizes.seconds)
            report_load(
                report, f"SQLite, {sizes.objects:,} objects, `shieldwall serve` (1 worker)", load, sizes.clients
            )
            with running(ShieldwallServer(work / "sqlite", workers=2, hub=sqlite.hub)) as two:
                load = load_test(two.collection_url, two.auth, sizes.clients, sizes.seconds)
            report_load(report, f"SQLite, {sizes.objects:,} objects, `serve --workers 2`", load, sizes.clients)

            assert sqlite.hub is not None
            growth = grow(
                sqlite.database_url,
                sqlite.token,
                sqlite.hub.collection_id,
                sizes.big,
                sizes.objects,
                sizes.ingest_budget_s,
            )
            how = f"{growth.ingested:,} through exchange.objects.ingest (validated) at " + (
                f"{growth.ingested / growth.ingest_seconds:,.0f} objects/s" if growth.ingested else "-"
            )
            if growth.bulk:
                how += (
                    f", then {growth.bulk:,} by SQLAlchemy bulk insert of the same row shape (NOT validated, "
                    f"ingest would exceed the {sizes.ingest_budget_s:.0f} s budget) at "
                    f"{growth.bulk / growth.bulk_seconds:,.0f} rows/s"
                )
            report.line(f"grew the collection to {sizes.big:,}: {how}")

            with http_client(sqlite.auth) as client:
                big_walk = walk(client, sqlite.collection_url, 1000)
                big = page_latencies(client, sqlite.collection_url, big_walk, limits, sizes.repeats)
            report_walk(report, f"{sizes.big:,} (SQLite)", big_walk)
            report_positions(report, f"{sizes.big:,} objects (SQLite)", big, limits)
            for limit in limits:
                report.line(
                    f"flatness, limit={limit}: page time at {sizes.big:,} / at {sizes.objects:,}: "
                    + ", ".join(f"{p} {big[(limit, p)] / small[(limit, p)]:.2f}x" for p in ("start", "middle", "end"))
                )

        try:
            postgres_part(report, sizes, work)
        except Exception as error:  # keep the SQLite figures; say what went wrong
            report.line(f"PostgreSQL part failed: {type(error).__name__}: {error}")
        report.line(f"load average at end {os.getloadavg()[0]:.1f}")
    path = report.save()
    print(f"wrote {path}")


def postgres_part(report: Report, sizes: Sizes, work: Path) -> None:
    from tests.support.postgres import PostgresServer, find_bindir

    bindir = find_bindir()
    if bindir is None:
        report.line("PostgreSQL: not measured (no PostgreSQL server installed; apt-get install postgresql)")
        return
    with running(PostgresServer(bindir)) as pg:
        url = pg.create_database("bench_taxii")
        with running(ShieldwallServer(work / "postgres", url)) as server:
            objects = indicators(sizes.objects)
            seconds = taxii_post(client_for(server.collection_url, server.auth), objects, sizes.bundle)
            report.line(
                f"POST {sizes.objects:,} in bundles of {sizes.bundle:,} to Shieldwall/PostgreSQL (taxii2-client): "
                f"{sizes.objects / seconds:,.0f} objects/s"
            )
            load = load_test(server.collection_url, server.auth, sizes.clients, sizes.seconds)
            report_load(
                report, f"PostgreSQL, {sizes.objects:,} objects, `shieldwall serve` (1 worker)", load, sizes.clients
            )
            with running(ShieldwallServer(work / "postgres", url, workers=2, hub=server.hub)) as two:
                load = load_test(two.collection_url, two.auth, sizes.clients, sizes.seconds)
            report_load(report, f"PostgreSQL, {sizes.objects:,} objects, `serve --workers 2`", load, sizes.clients)


if __name__ == "__main__":
    main()
