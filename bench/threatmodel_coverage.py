"""How the election page's coverage scales with the hub's size.

The threat model reads campaigns and relationships only through the exchange's sharing rule, and the
exchange has no filter on a relationship's source or target, so the threat model reads each reader's
visible relationships once, incrementally, into an id index (`threatmodel/links.py`). This measures `coverage.compute`
for one election (40 campaigns, 200 technique mappings) as unrelated relationships (detect-style `indicates`)
grow: the first view after growth (which indexes the new objects) and later views, against the peer a
design without the index would pay on every view: the exchange's paged read of the reader's visible
relationships (`objects.query_objects`, limit 1000).

    python -m bench.threatmodel_coverage [--quick]
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
from shieldwall.threatmodel import authoring, coverage, disarm, links
from shieldwall.threatmodel.demo import DEMO_TECHNIQUES
from shieldwall.threatmodel.elections import ElectionInput, create_election
from shieldwall.threatmodel.tables import Election

CAMPAIGNS = 40
TECHNIQUES_PER_CAMPAIGN = 5
STAMP = "2026-10-01T10:00:00.000Z"


def _background(count: int) -> list[dict[str, Any]]:
    """count/2 indicators and count/2 `indicates` relationships pointing at one unrelated campaign."""
    target = f"campaign--{uuid.uuid4()}"
    out: list[dict[str, Any]] = []
    for i in range(count // 2):
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


def main() -> None:
    quick = "--quick" in sys.argv
    sizes = [2_000, 10_000] if quick else [10_000, 50_000]
    report = Report("threatmodel_coverage")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        database = Database(url)
        principal, election_id = _setup(database)
        present = 0
        first_ms: float | None = None
        for size in sizes:
            _grow(database, principal, size - present)
            present = size

            def page() -> None:
                with database.session() as session:
                    election = session.get(Election, election_id)
                    assert election is not None
                    cov = coverage.compute(session, principal, election)
                    assert len(cov.views) == CAMPAIGNS

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

            first = _time(page, repeat=1) * 1000  # indexes the objects added since the last view
            recent = _time(page) * 1000  # everything is younger than the overlap window: re-read each time
            overlap, links.OVERLAP_MICROS = links.OVERLAP_MICROS, 0  # as it is once the window has passed
            steady = _time(page) * 1000
            links.OVERLAP_MICROS = overlap
            raw = _time(peer) * 1000
            first_ms = first_ms or steady
            report.line(
                f"coverage page, 1 election x {CAMPAIGNS} campaigns, {size:,} background objects (SQLite): "
                f"first view after growth {first:,.0f} ms; next views while the new objects are younger than the "
                f"{overlap // 1_000_000} s overlap {recent:,.0f} ms; steady state {steady:,.0f} ms "
                f"({raw / steady:.1f}x faster than the exchange's paged read of the reader's visible relationships, "
                f"{raw:,.0f} ms, which a design without the index pays on every view); "
                f"steady state vs smallest size {steady / first_ms:.1f}x"
            )
        database.dispose()
    report.save()


if __name__ == "__main__":
    main()
