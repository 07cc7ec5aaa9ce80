"""Re-importing DISARM compares content: the same bundle twice reports 0 updated and writes no row."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select

from shieldwall.store.db import Database
from shieldwall.threatmodel.disarm import import_path
from shieldwall.threatmodel.tables import Tactic, Technique, TechniqueTactic
from tests.threatmodel.test_disarm import run


def _writes(database: Database, path: Path) -> tuple[Any, list[str]]:
    """Import path in one transaction; the result and every INSERT/UPDATE/DELETE statement it sent."""
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().split(" ", 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            statements.append(statement)

    event.listen(database.engine, "before_cursor_execute", seen)
    try:
        with database.session() as session:
            result = import_path(session, path)
    finally:
        event.remove(database.engine, "before_cursor_execute", seen)
    return result, statements


def test_the_same_bundle_twice_reports_nothing_updated(database_url: str, tmp_path: Path, shared_data: Path) -> None:
    path = shared_data / "disarm" / "DISARM.json"
    first = run(database_url, tmp_path, "import-disarm", str(path))
    assert first.exit_code == 0, first.output
    assert "16 tactics (16 new, 0 updated, 0 unchanged)" in first.output
    assert "391 techniques (391 new, 0 updated, 0 unchanged)" in first.output

    second = run(database_url, tmp_path, "import-disarm", str(path))
    assert second.exit_code == 0, second.output
    assert "16 tactics (0 new, 0 updated, 16 unchanged)" in second.output
    assert "391 techniques (0 new, 0 updated, 391 unchanged)" in second.output

    # And a third time in-process: not one row is written (nothing re-stamped, re-linked or republished).
    database = Database(database_url)
    try:
        result, statements = _writes(database, path)
        assert (result.techniques_updated, result.techniques_unchanged, result.tactics_updated) == (0, 391, 0)
        assert statements == []
        with database.session() as session:
            assert session.scalar(select(func.count()).select_from(Technique)) == 391
            assert session.scalar(select(func.count()).select_from(TechniqueTactic)) == 391
    finally:
        database.dispose()


def test_only_what_changed_is_updated(database_url: str, tmp_path: Path, shared_data: Path) -> None:
    path = shared_data / "disarm" / "DISARM.json"
    assert run(database_url, tmp_path, "import-disarm", str(path)).exit_code == 0
    bundle = json.loads(path.read_text())
    tactics = {o["x_mitre_shortname"]: o for o in bundle["objects"] if o["type"] == "x-mitre-tactic"}
    for obj in bundle["objects"]:
        external = (obj.get("external_references") or [{}])[0].get("external_id")
        if obj["type"] == "attack-pattern" and external == "T0048":
            obj["description"] = "A new description."
        if obj["type"] == "attack-pattern" and external == "T0002":
            # Moved to another tactic: a membership change alone counts as an update.
            other = next(name for name in tactics if name != obj["kill_chain_phases"][0]["phase_name"])
            obj["kill_chain_phases"] = [{"kill_chain_name": "disarm", "phase_name": other}]
            moved_to = tactics[other]["external_references"][0]["external_id"]
        if obj["type"] == "x-mitre-tactic" and external == "TA01":
            obj["name"] = "Plan Strategy (renamed)"
    newer = tmp_path / "DISARM-newer.json"
    newer.write_text(json.dumps(bundle))

    again = run(database_url, tmp_path, "import-disarm", str(newer))
    assert again.exit_code == 0, again.output
    assert "16 tactics (0 new, 1 updated, 15 unchanged)" in again.output
    assert "391 techniques (0 new, 2 updated, 389 unchanged)" in again.output
    database = Database(database_url)
    try:
        with database.session() as session:
            assert session.scalar(select(Technique.description).where(Technique.external_id == "T0048")) == (
                "A new description."
            )
            tactic_of_t0002 = session.scalars(
                select(Tactic.external_id)
                .join(TechniqueTactic, TechniqueTactic.tactic_id == Tactic.id)
                .join(Technique, Technique.id == TechniqueTactic.technique_id)
                .where(Technique.external_id == "T0002")
            ).all()
            assert tactic_of_t0002 == [moved_to]
            assert session.scalar(select(func.count()).select_from(TechniqueTactic)) == 391
    finally:
        database.dispose()


def test_placeholder_rows_from_the_demo_count_as_updated(database_url: str, tmp_path: Path, shared_data: Path) -> None:
    from shieldwall.threatmodel.disarm import ensure_placeholder_techniques

    database = Database(database_url)
    try:
        with database.session() as session:
            ensure_placeholder_techniques(session, {"T0048": ("Harass", "TA18")})
    finally:
        database.dispose()
    result = run(database_url, tmp_path, "import-disarm", str(shared_data / "disarm" / "DISARM.json"))
    assert result.exit_code == 0, result.output
    # The 16 placeholder tactics get their descriptions; T0048 becomes the framework's own row.
    assert "16 tactics (0 new, 16 updated, 0 unchanged)" in result.output
    assert "391 techniques (390 new, 1 updated, 0 unchanged)" in result.output
