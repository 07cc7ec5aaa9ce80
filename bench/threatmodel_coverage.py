"""How the election page's coverage scales with the hub's size.

The threat model walks the campaign graph through the exchange by relationship ends
(`objects.related_many`, indexed on source_ref/target_ref) and reads the ends with `objects.latest_by_ids`,
every time, through the sharing rule (no index of its own, nothing to warm). This measures
`coverage.compute` for one election (40 campaigns, 200 technique mappings) as unrelated objects grow
(detect-style indicators with `indicates` relationships, and 10 % notes, which the campaign page finds
through the exchange's object_refs index, `objects.referring_many`): the first view after growth and
later views, against the peer a design without walks by ends would pay on every view: the exchange's paged
read of the reader's visible relationships (`objects.query_objects`, limit 1000).

    python -m bench.threatmodel_coverage [--quick] [--no-postgres]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

from bench.report import Report
from shieldwall.exchange import directory, objects
from shieldwall.exchange.auth import principal_for_member
from shieldwall.exchange.policy import Principal
from shieldwall.stix.tlp import TLP
from shieldwall.store.db import Database
from shieldwall.store.migrate import upgrade
from shieldwall.threatmodel import authoring, coverage, disarm
from shieldwall.threatmodel.demo import DEMO_TECHNIQUES
from shieldwall.threatmodel.elections import ElectionInput, create_election
from shieldwall.threatmodel.graph import CampaignGraph
from shieldwall.threatmodel.tables import Election

CAMPAIGNS = 40
TECHNIQUES_PER_CAMPAIGN = 5
STAMP = "2026-10-01T10:00:00.000Z"


def _background(count: int) -> list[dict[str, Any]]:
    """count objects: 45 % indicators, 45 % `indicates` relationships pointing at one unrelated campaign,
    10 % notes about those indicators."""
    target = f"campaign--{uuid.uuid4()}"
    out: list[dict[str, Any]] = []
    for i in range(count // 10 * 9 // 2):
        ind = {
            "type": "indicator",
            "spec_version": "2.1",
            "id": f"indicator--{uuid.uuid4()}",
            "created": STAMP,
            "modified": STAMP,
            "pattern": f"[url:value = 'http://bg{i}.example/']",
            "pattern_type": "stix",
            "valid_from": STAMP,
        }
        rel = {
            "type": "relationship",
            "spec_version": "2.1",
            "id": f"relationship--{uuid.uuid4()}",
            "created": STAMP,
            "modified": STAMP,
            "relationship_type": "indicates",
            "source_ref": ind["id"],
            "target_ref": target,
        }
        out += [ind, rel]
    indicators = [o["id"] for o in out if o["type"] == "indicator"]
    for i in range(count - len(out)):
        out.append(
            {
                "type": "note",
                "spec_version": "2.1",
                "id": f"note--{uuid.uuid4()}",
                "created": STAMP,
                "modified": STAMP,
                "abstract": "sync_timing evidence",
                "content": f"cluster {i}: accounts reposted within 3 s",
                "object_refs": [indicators[i % len(indicators)]],
            }
        )
    return out


def _setup(database: Database) -> tuple[Principal, int]:
    with database.session() as session:
        directory.ensure_hub(session, "bench hub")
        org = directory.create_org(session, "Bench platform", "platform", "US")
        group = directory.create_trust_group(session, "Bench group", "", [org.id])
        member = directory.create_member(session, org, "bench@example.org", "bench", "analyst")
        disarm.ensure_placeholder_techniques(session, DEMO_TECHNIQUES)
        principal = principal_for_member(session, member)
        election = create_election(
            session, ElectionInput("US", "national", "Bench election", date(2030, 1, 1), group.id), principal
        )
        ids = sorted(DEMO_TECHNIQUES)
        for i in range(CAMPAIGNS):
            picked = [ids[(i * 7 + k) % len(ids)] for k in range(TECHNIQUES_PER_CAMPAIGN)]
            tlp = (TLP.CLEAR, TLP.GREEN, TLP.AMBER)[i % 3]
            authoring.create_campaign(
                session,
                principal,
                authoring.CampaignInput(name=f"Campaign {i}", election_id=election.id, tlp=tlp, techniques=picked),
            )
        return principal, election.id


def _grow(database: Database, principal: Principal, count: int) -> None:
    with database.session() as session:
        collection = directory.collection_by_alias(session, directory.DEFAULT_COLLECTION_ALIAS)
        batch = _background(count)
        for start in range(0, len(batch), 1000):
            objects.ingest(session, principal, collection, batch[start : start + 1000], objects.Sharing(tlp=TLP.GREEN))


def _time(fn: Any, repeat: int = 3) -> float:
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def _bench_backend(report: Report, backend: str, url: str, sizes: list[int]) -> None:
    upgrade(url)
    database = Database(url)
    principal, election_id = _setup(database)
    with database.session() as session:
        election = session.get(Election, election_id)
        assert election is not None
        campaign_id = CampaignGraph(session, principal).campaign_ids_for_election(election.stix_id)[0]
    present = 0
    smallest: tuple[float, float] | None = None
    for size in sizes:
        _grow(database, principal, size - present)
        present = size

        def election_page() -> None:
            with database.session() as session:
                election = session.get(Election, election_id)
                assert election is not None
                cov = coverage.compute(session, principal, election)
                assert len(cov.views) == CAMPAIGNS

        def campaign_page() -> None:
            with database.session() as session:
                views = CampaignGraph(session, principal).views([campaign_id], with_notes=True)
                assert len(views) == 1 and len(views[0].techniques) == TECHNIQUES_PER_CAMPAIGN

        def peer() -> None:
            with database.session() as session:
                cursor = None
                while True:
                    got = objects.query_objects(
                        session, principal, objects.Query(types=["relationship"]), limit=1000, cursor=cursor
                    )
                    if not got.more:
                        break
                    cursor = got.next

        first = _time(election_page, repeat=1) * 1000  # nothing to warm: the same reads as every view
        steady = _time(election_page, repeat=5) * 1000
        campaign = _time(campaign_page, repeat=5) * 1000
        raw = _time(peer) * 1000
        smallest = smallest or (steady, campaign)
        report.line(
            f"coverage page, 1 election x {CAMPAIGNS} campaigns, {size:,} background objects "
            f"({size // 10:,} notes; {backend}): first view after growth {first:,.0f} ms; steady state "
            f"{steady:,.0f} ms; peer: the exchange's paged read of the reader's visible relationships, which a "
            f"design without walks by relationship ends pays on every view, {raw:,.0f} ms (peer/page "
            f"{raw / steady:.1f}x); steady state vs smallest size {steady / smallest[0]:.1f}x"
        )
        report.line(
            f"campaign page with notes, {size:,} background objects ({size // 10:,} notes; {backend}): "
            f"{campaign:,.0f} ms (notes found through the exchange's object_refs index); "
            f"vs smallest size {campaign / smallest[1]:.1f}x"
        )
    database.dispose()


def main() -> None:
    quick = "--quick" in sys.argv
    sizes = [2_000, 10_000] if quick else [10_000, 50_000]
    report = Report("threatmodel_coverage")
    with tempfile.TemporaryDirectory() as tmp:
        _bench_backend(report, "SQLite", f"sqlite:///{Path(tmp) / 'bench.db'}", sizes)
    if "--no-postgres" not in sys.argv:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from tests.support.postgres import PostgresServer, find_bindir

        bindir = find_bindir()
        if bindir is None:
            report.line("threatmodel bench postgresql: no PostgreSQL server installed; skipped")
        else:
            server = PostgresServer(bindir)
            server.start()
            try:
                url = server.create_database("tm_bench_" + uuid.uuid4().hex[:8])
                _bench_backend(report, "PostgreSQL", url, sizes)
            finally:
                server.stop()
    report.save()


if __name__ == "__main__":
    main()
