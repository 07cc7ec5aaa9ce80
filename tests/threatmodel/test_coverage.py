"""The heat map counts what each reader may see, and its counts match the stored relationships."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from shieldwall.exchange import directory, objects
from shieldwall.store.db import Database
from shieldwall.threatmodel import authoring, countermeasures, coverage
from shieldwall.threatmodel.briefing import build as build_briefing
from shieldwall.threatmodel.tables import Election, Technique
from tests.support.hub import Hub
from tests.threatmodel import scenario as sc


def test_heat_map_counts_per_reader(database: Database, hub: Hub) -> None:
    picture = sc.build(database, hub)
    with database.session() as session:
        election = session.get(Election, picture.election_id)
        assert election is not None
        for who, expected in sc.EXPECTED.items():
            cov = coverage.compute(session, sc.principal(session, hub, who), election)
            observed = {c.external_id: (c.campaign_count, c.organisation_count) for c in cov.observed_cells}
            assert observed == expected, who
            assert len(cov.views) == sc.CAMPAIGNS_SEEN[who], who
            # Every observed technique sits in its tactic's column, and columns follow DISARM's order.
            placed = {
                c.external_id: col.tactic.external_id for col in cov.columns for c in col.cells if c.campaign_count
            }
            assert placed == {t: sc.TECHNIQUES[t][1] for t in expected}, who
            assert [col.tactic.external_id for col in cov.columns][:4] == ["TA01", "TA02", "TA13", "TA14"]
            assert len(cov.columns) == 16
            assert not cov.framework_imported


def test_counts_match_the_stored_relationships(database: Database, hub: Hub) -> None:
    """Recount from the raw `uses` relationships the reader may read in the exchange."""
    picture = sc.build(database, hub)
    with database.session() as session:
        election = session.get(Election, picture.election_id)
        assert election is not None
        reader = sc.principal(session, hub, "agency")
        page = objects.query_objects(session, reader, objects.Query(types=["relationship"]), limit=1000)
        rels = page.objects()
        publisher = {r.stix_id: r.publisher_org_id for r in page.rows}
        campaigns = {
            r["source_ref"] for r in rels if r["relationship_type"] == "targets" and r["target_ref"] == election.stix_id
        }
        technique_ids = {t.stix_id: t.external_id for t in session.scalars(select(Technique))}
        expected: dict[str, tuple[set[str], set[int | None]]] = {}
        for r in rels:
            if r["relationship_type"] == "uses" and r["source_ref"] in campaigns and r["target_ref"] in technique_ids:
                entry = expected.setdefault(technique_ids[r["target_ref"]], (set(), set()))
                entry[0].add(r["source_ref"])
                entry[1].add(publisher[r["id"]])
        cov = coverage.compute(session, reader, election)
        got = {c.external_id: (c.campaign_count, c.organisation_count) for c in cov.observed_cells}
        assert got == {k: (len(c), len(o)) for k, (c, o) in expected.items()}
        # C1: 2 + C2: 2 + C3: 2 + C4: 1; lab's second mapping of T0049.003 on C1 is the same campaign.
        assert sum(n for n, _ in got.values()) == 7


def test_mapping_shares_like_the_campaign(database: Database, hub: Hub) -> None:
    """A technique mapped onto the AMBER campaign reaches its audience (the trust group) and nobody else."""
    picture = sc.build(database, hub)
    with database.session() as session:
        chirp = sc.principal(session, hub, "chirp")
        rel = authoring.map_technique(session, chirp, picture.campaigns["C3"], "T0124", "new evidence")
        assert rel["object_marking_refs"][0] == "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
    with database.session() as session:
        for who, sees in (("agency", True), ("chirp_colleague", True), ("lab", False), ("guest", False)):
            reader = sc.principal(session, hub, who)
            assert objects.count_objects(session, reader, objects.Query(ids=[rel["id"]])) == (1 if sees else 0), who
        election = session.get(Election, picture.election_id)
        assert election is not None
        lab_view = coverage.compute(session, sc.principal(session, hub, "lab"), election)
        assert "T0124" not in {c.external_id for c in lab_view.observed_cells}
        with pytest.raises(authoring.NotVisible):
            authoring.map_technique(session, sc.principal(session, hub, "lab"), picture.campaigns["C3"], "T0048")
        with pytest.raises(PermissionError):
            authoring.map_technique(
                session, sc.principal(session, hub, "chirp_reader"), picture.campaigns["C1"], "T0048"
            )
        with pytest.raises(authoring.AuthoringError, match="T9999"):
            authoring.map_technique(session, sc.principal(session, hub, "chirp"), picture.campaigns["C1"], "T9999")


def test_briefing_rows_shrink_with_clearance(database: Database, hub: Hub) -> None:
    picture = sc.build(database, hub)
    with database.session() as session:
        election = session.get(Election, picture.election_id)
        assert election is not None
        rows = {}
        for who in ("anonymous", "lab", "chirp", "agency"):
            brief = build_briefing(session, sc.principal(session, hub, who), election)
            rows[who] = brief
        assert rows["anonymous"].row_count < rows["lab"].row_count < rows["chirp"].row_count < rows["agency"].row_count
        chirp_indicators = [i.name for _, found in rows["chirp"].indicators_by_tlp for i in found]
        assert chirp_indicators == ["Harassment site"]
        assert rows["lab"].indicators_by_tlp == []
        assert [c["name"] for c in rows["lab"].campaigns] == ["Bot amplification of fraud claims", "Deepfake flyers"]
        assert rows["chirp"].narratives[0] == ("Ballots are rigged", 2)


def test_navigator_layer_lists_observed_techniques_with_scores(database: Database, hub: Hub) -> None:
    picture = sc.build(database, hub)
    with database.session() as session:
        election = session.get(Election, picture.election_id)
        assert election is not None
        chirp = sc.principal(session, hub, "chirp")
        countermeasures.record(session, chirp, election, "T0048", "Poll-worker protection hotline")
        layer = coverage.navigator_layer(
            coverage.compute(session, chirp, election), coverage.tactic_shortnames(session)
        )
    assert layer["versions"]["layer"].startswith("4.")
    entries = {t["techniqueID"]: t for t in layer["techniques"]}
    assert set(entries) == set(sc.EXPECTED["chirp"])
    assert entries["T0086.002"]["score"] == 2 and entries["T0086.002"]["tactic"] == "develop-content"
    assert "Poll-worker protection hotline" in entries["T0048"]["comment"]
    assert entries["T0048"]["tactic"] == "drive-online-harms"


def test_a_reader_who_joins_the_trust_group_sees_what_was_shared_before(database: Database, hub: Hub) -> None:
    """Nothing is remembered per reader: a change of audience (joining a trust group) shows on the next view."""
    picture = sc.build(database, hub)
    with database.session() as session:
        election = session.get(Election, picture.election_id)
        assert election is not None
        before = coverage.compute(session, sc.principal(session, hub, "lab"), election)
        assert "T0048" not in {c.external_id for c in before.observed_cells}
        directory.add_to_group(session, directory.group_by_slug(session, "us-2026"), hub.org_ids["lab"])
    with database.session() as session:
        election = session.get(Election, picture.election_id)
        assert election is not None
        after = coverage.compute(session, sc.principal(session, hub, "lab"), election)
        assert {c.external_id: c.campaign_count for c in after.observed_cells}["T0048"] == 1
        assert len(after.views) == 3


def test_new_and_deleted_links_show_on_the_next_view(database: Database, hub: Hub) -> None:
    """No staleness window: a mapping added after a first view counts at once, and stops counting once deleted."""
    picture = sc.build(database, hub)
    with database.session() as session:
        election = session.get(Election, picture.election_id)
        assert election is not None
        chirp = sc.principal(session, hub, "chirp")
        before = {c.external_id: c.campaign_count for c in coverage.compute(session, chirp, election).observed_cells}
        assert before == {k: n for k, (n, _) in sc.EXPECTED["chirp"].items()}
    with database.session() as session:
        rel = authoring.map_technique(
            session, sc.principal(session, hub, "chirp"), picture.campaigns["C3"], "T0049.003"
        )
    with database.session() as session:
        election = session.get(Election, picture.election_id)
        assert election is not None
        chirp = sc.principal(session, hub, "chirp")
        added = {c.external_id: c.campaign_count for c in coverage.compute(session, chirp, election).observed_cells}
        assert added["T0049.003"] == before.get("T0049.003", 0) + 1
        assert objects.delete_versions(session, chirp, objects.Query(ids=[rel["id"]])) == 1
    with database.session() as session:
        election = session.get(Election, picture.election_id)
        assert election is not None
        chirp = sc.principal(session, hub, "chirp")
        after = {c.external_id: c.campaign_count for c in coverage.compute(session, chirp, election).observed_cells}
        assert after == before
