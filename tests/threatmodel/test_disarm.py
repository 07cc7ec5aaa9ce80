"""`shieldwall threatmodel import-disarm` on the real DISARM bundle, through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from shieldwall.cli import app
from shieldwall.store.db import Database
from shieldwall.threatmodel.tables import Tactic, Technique, TechniqueTactic


def run(database_url: str, tmp_path: Path, *args: str):  # type: ignore[no-untyped-def]
    env = {"SHIELDWALL_DATABASE_URL": database_url, "SHIELDWALL_DATA_DIR": str(tmp_path / "data")}
    return CliRunner().invoke(app, ["threatmodel", *args], env=env)


def bundle_facts(path: Path) -> tuple[set[str], dict[str, str], int]:
    objects = json.loads(path.read_text())["objects"]
    techniques = {
        o["external_references"][0]["external_id"]: o["name"] for o in objects if o["type"] == "attack-pattern"
    }
    tactics = {o["external_references"][0]["external_id"] for o in objects if o["type"] == "x-mitre-tactic"}
    links = sum(1 for o in objects if o["type"] == "relationship" and o["relationship_type"] == "subtechnique-of")
    return tactics, techniques, links


def test_import_real_disarm_then_reimport_updates_without_duplicates(
    database_url: str, tmp_path: Path, shared_data: Path
) -> None:
    path = shared_data / "disarm" / "DISARM.json"
    tactic_ids, technique_names, links = bundle_facts(path)
    assert len(tactic_ids) == 16 and len(technique_names) == 391 and links == 288

    result = run(database_url, tmp_path, "import-disarm", str(path))
    assert result.exit_code == 0, result.output
    assert "16 tactics" in result.output and "391 techniques (391 new" in result.output

    database = Database(database_url)
    try:
        with database.session() as session:
            tactics = list(session.scalars(select(Tactic).order_by(Tactic.position)))
            assert {t.external_id for t in tactics} == tactic_ids
            # DISARM's matrix order (plan, prepare, execute, assess), not numeric order.
            assert [t.external_id for t in tactics][:5] == ["TA01", "TA02", "TA13", "TA14", "TA06"]
            assert tactics[-1].external_id == "TA12"
            stored = {t.external_id: t for t in session.scalars(select(Technique))}
            assert {k: v.name for k, v in stored.items()} == technique_names
            assert sum(1 for t in stored.values() if t.parent_external_id) == 288
            assert stored["T0049.003"].parent_external_id == "T0049"
            assert stored["T0049.003"].is_subtechnique and not stored["T0049"].is_subtechnique
            assert stored["T0002"].url.endswith("T0002.md")
            assert session.scalar(select(func.count()).select_from(TechniqueTactic)) == 391
            harass_tactic = session.scalar(
                select(Tactic.external_id)
                .join(TechniqueTactic, TechniqueTactic.tactic_id == Tactic.id)
                .join(Technique, Technique.id == TechniqueTactic.technique_id)
                .where(Technique.external_id == "T0048")
            )
            assert harass_tactic == "TA18"

        # A newer bundle renames one technique: the re-import updates it in place.
        bundle = json.loads(path.read_text())
        for obj in bundle["objects"]:
            if obj["type"] == "attack-pattern" and obj["external_references"][0]["external_id"] == "T0048":
                obj["name"] = "Harass (renamed)"
        newer = tmp_path / "DISARM-newer.json"
        newer.write_text(json.dumps(bundle))
        again = run(database_url, tmp_path, "import-disarm", str(newer))
        assert again.exit_code == 0, again.output
        assert "(0 new, 1 updated, 390 unchanged)" in again.output
        with database.session() as session:
            assert session.scalar(select(func.count()).select_from(Technique)) == 391
            assert session.scalar(select(func.count()).select_from(Tactic)) == 16
            assert session.scalar(select(func.count()).select_from(TechniqueTactic)) == 391
            assert session.scalar(select(Technique.name).where(Technique.external_id == "T0048")) == "Harass (renamed)"
    finally:
        database.dispose()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not a JSON file"),
        ('{"type": "bundle"}', "no 'objects' list"),
        (
            '{"objects": [{"type": "x-mitre-tactic", "id": "x-mitre-tactic--1", "x_mitre_shortname": "a",'
            ' "external_references": []}]}',
            "objects[0] (x-mitre-tactic--1): field external_references",
        ),
        (
            '{"objects": [{"type": "x-mitre-tactic", "id": "x-mitre-tactic--1", "x_mitre_shortname": "a",'
            ' "external_references": [{"external_id": "TA01"}]}, {"type": "attack-pattern", "id": "attack-pattern--2",'
            ' "external_references": [{"external_id": "T0001"}]}]}',
            "objects[1] (T0001): field kill_chain_phases",
        ),
    ],
)
def test_bad_bundles_are_refused_with_a_clear_error_and_nothing_written(
    tmp_path: Path, content: str, message: str
) -> None:
    from shieldwall.store.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'bad.db'}"
    upgrade(url)
    path = tmp_path / "bad.json"
    path.write_text(content)
    result = run(url, tmp_path, "import-disarm", str(path))
    assert result.exit_code == 2
    assert message in result.output.replace("\n", "") and "bad.json" in result.output.replace("\n", "")
    database = Database(url)
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Technique)) == 0
    database.dispose()


def test_election_calendar_from_the_cli(database_url: str, tmp_path: Path) -> None:
    from shieldwall.exchange import directory

    database = Database(database_url)
    with database.session() as session:
        directory.ensure_hub(session, "hub")
        org = directory.create_org(session, "Agency", "government", "DE", slug="agency")
        directory.create_member(session, org, "a@agency.example", "A", "analyst")
        directory.create_trust_group(session, "DE group", "", [org.id], slug="de-group")
    database.dispose()
    added = run(
        database_url,
        tmp_path,
        "add-election",
        "--country",
        "de",
        "--name",
        "Landtag Hessen",
        "--date",
        "2033-10-08",
        "--level",
        "state",
        "--trust-group",
        "de-group",
        "--publish-as",
        "a@agency.example",
    )
    assert added.exit_code == 0, added.output
    assert "Landtag Hessen (DE, 2033-10-08)" in added.output
    bad = run(database_url, tmp_path, "add-election", "--country", "XX1", "--name", "n", "--date", "2033-01-01")
    assert bad.exit_code == 2 and "ISO 3166-1" in bad.output
    wrong_date = run(database_url, tmp_path, "add-election", "--country", "DE", "--name", "n", "--date", "soon")
    assert wrong_date.exit_code == 2 and "YYYY-MM-DD" in wrong_date.output
    listed = run(database_url, tmp_path, "elections")
    assert listed.exit_code == 0 and "Landtag Hessen" in listed.output


def test_a_directory_given_as_the_bundle_is_refused_by_name(tmp_path: Path) -> None:
    from shieldwall.store.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'dir.db'}"
    upgrade(url)
    (tmp_path / "bundle").mkdir()
    result = run(url, tmp_path, "import-disarm", str(tmp_path / "bundle"))
    assert result.exit_code == 2
    said = " ".join(result.output.split())  # Rich wraps long paths' lines at spaces
    assert "bundle: cannot read it (Is a directory)" in said
