"""Banks filled from STIX files: signals, versions, revocation, expiry, bad patterns; on both databases."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from shieldwall.match.banks import BankError, create_bank, get_bank, import_stix_file
from shieldwall.match.service import load_matcher, match_value
from shieldwall.match.tables import BankSignal
from shieldwall.stix.tlp import TLP
from shieldwall.store.base import utcnow
from shieldwall.store.db import Database
from tests.match.stixdata import indicator, write_bundle

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
SHA = "a" * 64


def sample_indicators() -> list[dict]:
    return [
        indicator("[url:value = 'https://www.fake-news.example/story?utm_source=x']", TLP.CLEAR, name="fake story"),
        indicator("[domain-name:value = 'disinfo.example']", TLP.GREEN),
        indicator("[user-account:account_type = 'twitter' AND user-account:account_login = 'Troll_1']", TLP.AMBER),
        indicator("[user-account:user_id = '9876']", TLP.AMBER),
        indicator(f"[file:hashes.'SHA-256' = '{SHA}' OR file:hashes.PDQ = '{PDQ}']", TLP.RED),
        indicator("[x-text:value = 'Polling stations in Springfield are closed, vote tomorrow instead']", None),
        indicator("[ipv4-addr:value = '198.51.100.1']", TLP.GREEN),
        indicator("[url:value LIKE '%evil%']", TLP.GREEN),
        {"type": "malware", "id": "malware--1", "name": "x"},
    ]


def kinds(database: Database) -> dict[str, int]:
    with database.session() as session:
        rows = session.scalars(select(BankSignal.signal_type)).all()
    return {k: rows.count(k) for k in set(rows)}


def test_import_reads_every_supported_pattern(database: Database, tmp_path: Path) -> None:
    path = write_bundle(tmp_path / "b.json", sample_indicators())
    with database.session() as session:
        bank = create_bank(session, "io-2026", label="known IO")
        report = import_stix_file(session, bank, path)
    assert report.indicators == 8 and report.other_objects == 1
    assert report.added == 7
    assert len(report.errors) == 2
    assert any("ipv4-addr:value" in e for e in report.errors)
    assert any("only '=' comparisons" in e for e in report.errors)
    assert kinds(database) == {"url": 1, "domain": 1, "account": 2, "sha256": 1, "pdq": 1, "text": 1}
    with database.session() as session:
        matcher = load_matcher(session)
        values = {s.signal_type: s for s in session.scalars(select(BankSignal))}
    assert values["url"].value == "fake-news.example/story"
    assert values["text"].tlp == TLP.AMBER  # unmarked indicators default to AMBER
    hit = match_value(matcher, "url", "http://fake-news.example/story/").matches[0]
    assert (hit.bank, hit.how, hit.tlp) == ("io-2026", "exact", TLP.CLEAR)
    assert hit.source_id.startswith("indicator--")
    assert [m.how for m in match_value(matcher, "url", "https://a.b.disinfo.example/x").matches] == ["domain"]
    assert match_value(matcher, "account", "x:@troll_1").matches[0].signal_value == "twitter:troll_1"
    assert match_value(matcher, "account", "facebook:id:9876").matches[0].how == "any-platform"
    assert match_value(matcher, "account", "troll_1").matches  # no platform given: look everywhere
    assert not match_value(matcher, "account", "facebook:troll_1").matches
    text = match_value(matcher, "text", "POLLING STATIONS in Springfield are closed!! Vote tomorrow instead")
    assert text.matches and text.matches[0].how == "exact"
    assert match_value(matcher, "sha256", SHA.upper()).matches


def test_new_versions_replace_revocation_and_expiry_remove(database: Database, tmp_path: Path) -> None:
    first = indicator("[url:value = 'http://one.example/a']")
    second = indicator("[domain-name:value = 'two.example']")
    with database.session() as session:
        bank = create_bank(session, "b")
        import_stix_file(session, bank, write_bundle(tmp_path / "1.json", [first, second]))
    newer = {**first, "modified": "2026-10-02T10:00:00.000Z", "pattern": "[url:value = 'http://one.example/b']"}
    revoked = {**second, "modified": "2026-10-02T10:00:00.000Z", "revoked": True}
    with database.session() as session:
        report = import_stix_file(session, get_bank(session, "b"), write_bundle(tmp_path / "2.json", [newer, revoked]))
    assert (report.added, report.removed, report.revoked) == (1, 2, 1)
    with database.session() as session:
        assert session.scalars(select(BankSignal.value)).all() == ["one.example/b"]
        # An older version arriving late changes nothing.
        report = import_stix_file(session, get_bank(session, "b"), write_bundle(tmp_path / "3.json", [first]))
        assert report.stale == 1
    soon = (utcnow() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    gone = (utcnow() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    expiring = indicator("[url:value = 'http://three.example/']", valid_until=soon)
    expired = indicator("[url:value = 'http://four.example/']", valid_until=gone)
    with database.session() as session:
        report = import_stix_file(
            session, get_bank(session, "b"), write_bundle(tmp_path / "4.json", [expiring, expired])
        )
    assert report.added == 1 and report.expired == 1
    with database.session() as session:
        assert match_value(load_matcher(session), "url", "three.example").matches
        later = load_matcher(session, now=utcnow() + timedelta(hours=2))
        assert not match_value(later, "url", "three.example").matches
        removed = import_stix_file(
            session, get_bank(session, "b"), write_bundle(tmp_path / "5.json", []), now=utcnow() + timedelta(hours=2)
        ).removed
    assert removed == 1


def test_bad_files_and_names_are_reported(database: Database, tmp_path: Path) -> None:
    with database.session() as session:
        bank = create_bank(session, "b")
        with pytest.raises(BankError, match="already exists"):
            create_bank(session, "b")
        with pytest.raises(BankError, match="no bank named 'nope'"):
            get_bank(session, "nope")
        broken = tmp_path / "broken.json"
        broken.write_text('{"type": "bundle", "objects": [')
        with pytest.raises(BankError, match=r"broken\.json: not a JSON STIX document"):
            import_stix_file(session, bank, broken)
        folder = tmp_path / "folder"
        folder.mkdir()
        with pytest.raises(BankError, match=r"folder: cannot read it \(Is a directory\)"):
            import_stix_file(session, bank, folder)
        scalar = tmp_path / "scalar.json"
        scalar.write_text(json.dumps(42))
        with pytest.raises(BankError, match=r"scalar\.json"):
            import_stix_file(session, bank, scalar)
        bad_pdq = indicator("[file:hashes.PDQ = 'abc']")
        report = import_stix_file(session, bank, write_bundle(tmp_path / "p.json", [bad_pdq]))
        assert report.added == 0 and "not 64 hex digits" in report.errors[0]
        x_prop = indicator("[file:hashes.MD5 = '" + "b" * 32 + "']", x_pdq_hash=[PDQ])
        report = import_stix_file(session, bank, write_bundle(tmp_path / "x.json", [x_prop]))
        assert report.added == 2


def test_matcher_cache_rebuilds_only_when_a_bank_changes(database: Database, tmp_path: Path) -> None:
    from shieldwall.match.service import MatcherCache

    cache = MatcherCache()
    with database.session() as session:
        bank = create_bank(session, "b")
        import_stix_file(
            session, bank, write_bundle(tmp_path / "1.json", [indicator("[url:value = 'http://a.example/']")])
        )
    first = cache.get(database)
    assert cache.get(database) is first
    soon = (utcnow() + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    with database.session() as session:
        import_stix_file(
            session,
            get_bank(session, "b"),
            write_bundle(tmp_path / "2.json", [indicator("[url:value = 'http://b.example/']", valid_until=soon)]),
        )
    second = cache.get(database)
    assert second is not first and match_value(second, "url", "b.example").matches
    assert second.expires_at is not None
    # Once the earliest valid_until has passed, the snapshot is rebuilt without that signal.
    time.sleep(max(0.0, (second.expires_at - utcnow()).total_seconds()) + 0.05)
    third = cache.get(database)
    assert third is not second and not match_value(third, "url", "b.example").matches
    assert match_value(third, "url", "a.example").matches
