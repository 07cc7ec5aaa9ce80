"""Importing the DISARM framework (a STIX 2.1 bundle) into the threat model's tactic and technique tables.

The project ships no copy of DISARM (CC BY-SA 4.0): the user gives the path to the bundle. Re-importing
updates rows in place, keyed by the DISARM external ids (TA01, T0001, T0001.001), so nothing is duplicated;
rows whose content is unchanged are counted as such and not written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from shieldwall.stix.disarm_refs import TECHNIQUE_URL, placeholder_stix_id
from shieldwall.threatmodel.tables import Tactic, Technique, TechniqueTactic

TECHNIQUE_ID = re.compile(r"^T\d{4}(\.\d{3})?$")
TACTIC_ID = re.compile(r"^TA\d{2}$")
DISARM_SOURCES = ("DISARM", "disarm", "mitre-attack")

# DISARM's 16 red-framework tactics in matrix order: the heat map's columns when the framework itself has
# not been imported (names and ids only; descriptions come with the import).
TACTICS_IN_ORDER: tuple[tuple[str, str, str], ...] = (
    ("TA01", "plan-strategy", "Plan Strategy"),
    ("TA02", "plan-objectives", "Plan Objectives"),
    ("TA13", "target-audience-analysis", "Target Audience Analysis"),
    ("TA14", "develop-narratives", "Develop Narratives"),
    ("TA06", "develop-content", "Develop Content"),
    ("TA15", "establish-assets", "Establish Assets"),
    ("TA16", "establish-legitimacy", "Establish Legitimacy"),
    ("TA05", "microtarget", "Microtarget"),
    ("TA07", "select-channels-and-affordances", "Select Channels and Affordances"),
    ("TA08", "conduct-pump-priming", "Conduct Pump Priming"),
    ("TA09", "deliver-content", "Deliver Content"),
    ("TA17", "maximise-exposure", "Maximise Exposure"),
    ("TA18", "drive-online-harms", "Drive Online Harms"),
    ("TA10", "drive-offline-activity", "Drive Offline Activity"),
    ("TA11", "persist-in-the-information-environment", "Persist in the Information Environment"),
    ("TA12", "assess-effectiveness", "Assess Effectiveness"),
)


class DisarmError(ValueError):
    """The bundle is not a usable DISARM framework; the message names the file, object and field."""


@dataclass
class ParsedTactic:
    external_id: str
    stix_id: str
    shortname: str
    name: str
    description: str
    position: int = 0


@dataclass
class ParsedTechnique:
    external_id: str
    stix_id: str
    name: str
    description: str
    url: str
    phases: list[str]
    is_subtechnique: bool
    stix_json: str
    parent_external_id: str | None = None


@dataclass
class Framework:
    tactics: list[ParsedTactic] = field(default_factory=list)
    techniques: list[ParsedTechnique] = field(default_factory=list)


@dataclass
class ImportResult:
    tactics_added: int = 0
    tactics_updated: int = 0
    techniques_added: int = 0
    techniques_updated: int = 0
    subtechnique_links: int = 0
    tactics_unchanged: int = 0
    techniques_unchanged: int = 0


def external_id_of(obj: dict[str, Any], pattern: re.Pattern[str]) -> str | None:
    for ref in obj.get("external_references") or ():
        if isinstance(ref, dict) and isinstance(ref.get("external_id"), str) and pattern.match(ref["external_id"]):
            return str(ref["external_id"])
    return None


def technique_external_id(obj: dict[str, Any]) -> str | None:
    """The DISARM technique id an `attack-pattern` carries, from any source (detect's own objects too)."""
    return external_id_of(obj, TECHNIQUE_ID)


def _url_of(obj: dict[str, Any]) -> str:
    for ref in obj.get("external_references") or ():
        if isinstance(ref, dict) and isinstance(ref.get("url"), str):
            return str(ref["url"])[:500]
    return ""


def parse_bundle(path: Path) -> Framework:
    try:
        bundle = orjson.loads(path.read_bytes())  # strict: no NaN or lone surrogates
    except FileNotFoundError:
        raise DisarmError(f"{path}: no such file") from None
    except OSError as error:  # a directory, no permission
        raise DisarmError(f"{path}: cannot read it ({error.strerror or error})") from None
    except json.JSONDecodeError as error:  # orjson's errors are these, invalid UTF-8 included
        raise DisarmError(f"{path}: not a JSON file ({error})") from None
    if not isinstance(bundle, dict) or not isinstance(bundle.get("objects"), list):
        raise DisarmError(f"{path}: not a STIX bundle (no 'objects' list)")
    objects: list[Any] = bundle["objects"]
    framework = Framework()
    by_stix_id: dict[str, ParsedTechnique] = {}
    tactic_by_stix_id: dict[str, ParsedTactic] = {}
    matrix_order: list[str] = []
    subtechnique_links: list[tuple[int, str, str]] = []
    for index, obj in enumerate(objects):
        where = f"{path}: objects[{index}]"
        if not isinstance(obj, dict):
            raise DisarmError(f"{where}: not a JSON object")
        kind = obj.get("type")
        if kind == "x-mitre-tactic":
            external = external_id_of(obj, TACTIC_ID)
            if external is None:
                raise DisarmError(f"{where} ({obj.get('id')}): field external_references has no TAxx external_id")
            if not isinstance(obj.get("x_mitre_shortname"), str):
                raise DisarmError(f"{where} ({external}): field x_mitre_shortname is missing")
            tactic = ParsedTactic(
                external,
                str(obj.get("id")),
                obj["x_mitre_shortname"],
                str(obj.get("name") or external),
                str(obj.get("description") or ""),
            )
            framework.tactics.append(tactic)
            tactic_by_stix_id[tactic.stix_id] = tactic
        elif kind == "attack-pattern":
            external = technique_external_id(obj)
            if external is None:
                raise DisarmError(f"{where} ({obj.get('id')}): field external_references has no Txxxx external_id")
            phases = [
                str(p["phase_name"])
                for p in obj.get("kill_chain_phases") or ()
                if isinstance(p, dict) and isinstance(p.get("phase_name"), str)
            ]
            if not phases:
                raise DisarmError(f"{where} ({external}): field kill_chain_phases names no tactic")
            technique = ParsedTechnique(
                external_id=external,
                stix_id=str(obj.get("id")),
                name=str(obj.get("name") or external)[:300],
                description=str(obj.get("description") or ""),
                url=_url_of(obj),
                phases=phases,
                is_subtechnique=bool(obj.get("x_mitre_is_subtechnique")) or "." in external,
                stix_json=json.dumps(obj, ensure_ascii=False),
            )
            framework.techniques.append(technique)
            by_stix_id[technique.stix_id] = technique
        elif kind == "x-mitre-matrix":
            matrix_order = [ref for ref in obj.get("tactic_refs") or () if isinstance(ref, str)]
        elif kind == "relationship" and obj.get("relationship_type") == "subtechnique-of":
            subtechnique_links.append((index, str(obj.get("source_ref")), str(obj.get("target_ref"))))
    if not framework.tactics:
        raise DisarmError(f"{path}: no x-mitre-tactic objects: is this the DISARM STIX bundle?")
    if not framework.techniques:
        raise DisarmError(f"{path}: no attack-pattern objects: is this the DISARM STIX bundle?")
    for index, source, target in subtechnique_links:
        child, parent = by_stix_id.get(source), by_stix_id.get(target)
        if child is None or parent is None:
            raise DisarmError(f"{path}: objects[{index}]: subtechnique-of points at an unknown attack-pattern")
        child.parent_external_id = parent.external_id
    for technique in framework.techniques:  # sub-techniques the bundle forgot to link: T0001.001 -> T0001
        if technique.parent_external_id is None and "." in technique.external_id:
            technique.parent_external_id = technique.external_id.split(".")[0]
    order = {stix_id: position for position, stix_id in enumerate(matrix_order)}
    framework.tactics.sort(key=lambda t: (order.get(t.stix_id, len(order)), t.external_id))
    for position, tactic in enumerate(framework.tactics):
        tactic.position = position
    shortnames = {t.shortname for t in framework.tactics}
    for technique in framework.techniques:
        unknown = [p for p in technique.phases if p not in shortnames]
        if unknown:
            raise DisarmError(f"{path}: technique {technique.external_id}: kill_chain_phases names unknown {unknown}")
    return framework


def _tactic_fields(parsed: ParsedTactic) -> dict[str, Any]:
    return {
        "stix_id": parsed.stix_id,
        "shortname": parsed.shortname,
        "name": parsed.name,
        "description": parsed.description,
        "position": parsed.position,
    }


def _technique_fields(parsed: ParsedTechnique) -> dict[str, Any]:
    return {
        "stix_id": parsed.stix_id,
        "name": parsed.name,
        "description": parsed.description,
        "url": parsed.url,
        "parent_external_id": parsed.parent_external_id,
        "is_subtechnique": parsed.is_subtechnique,
        "is_placeholder": False,
        "stix_json": parsed.stix_json,
    }


def _apply(row: Any, fields: dict[str, Any]) -> bool:
    """Set the fields that differ on row; whether any did (an unchanged row is not written at all)."""
    changed = False
    for name, value in fields.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed


def import_framework(
    session: Session, framework: Framework, progress: Callable[[int], None] | None = None
) -> ImportResult:
    """Upsert tactics and techniques by external id and their tactic membership, in the caller's transaction.

    Content is compared, not assumed: a row identical to the bundle's is counted unchanged and not written, so
    importing the same bundle twice reports nothing updated (and touches no row)."""
    result = ImportResult()
    tactics = {t.external_id: t for t in session.scalars(select(Tactic))}
    for parsed in framework.tactics:
        row = tactics.get(parsed.external_id)
        if row is None:
            row = Tactic(external_id=parsed.external_id, **_tactic_fields(parsed))
            session.add(row)
            tactics[parsed.external_id] = row
            result.tactics_added += 1
        elif _apply(row, _tactic_fields(parsed)):
            result.tactics_updated += 1
        else:
            result.tactics_unchanged += 1
    session.flush()
    tactic_by_shortname = {t.shortname: t.id for t in tactics.values()}

    techniques = {t.external_id: t for t in session.scalars(select(Technique))}
    added: set[str] = set()
    changed: set[str] = set()
    for parsed_technique in framework.techniques:
        technique = techniques.get(parsed_technique.external_id)
        fields = _technique_fields(parsed_technique)
        if technique is None:
            technique = Technique(external_id=parsed_technique.external_id, **fields)
            session.add(technique)
            techniques[parsed_technique.external_id] = technique
            added.add(parsed_technique.external_id)
        elif _apply(technique, fields):
            changed.add(parsed_technique.external_id)
        if progress is not None:
            progress(1)
    session.flush()
    result.subtechnique_links = sum(1 for t in framework.techniques if t.parent_external_id)

    # Tactic membership: rewritten only for the techniques whose set of tactics differs from the bundle's.
    current: dict[int, set[int]] = {}
    for technique_id, tactic_id in session.execute(select(TechniqueTactic.technique_id, TechniqueTactic.tactic_id)):
        current.setdefault(technique_id, set()).add(tactic_id)
    stale: list[int] = []
    membership: list[dict[str, int]] = []
    for parsed_technique in framework.techniques:
        technique_id = techniques[parsed_technique.external_id].id
        wanted = {tactic_by_shortname[phase] for phase in parsed_technique.phases}
        have = current.get(technique_id, set())
        if wanted == have:
            continue
        if have:
            stale.append(technique_id)
        membership += [{"technique_id": technique_id, "tactic_id": tactic_id} for tactic_id in sorted(wanted)]
        if parsed_technique.external_id not in added:
            changed.add(parsed_technique.external_id)
    for start in range(0, len(stale), 500):
        session.execute(delete(TechniqueTactic).where(TechniqueTactic.technique_id.in_(stale[start : start + 500])))
    if membership:
        session.execute(insert(TechniqueTactic), membership)
    result.techniques_added = len(added)
    result.techniques_updated = len(changed)
    result.techniques_unchanged = len(framework.techniques) - len(added) - len(changed)
    return result


def import_path(session: Session, path: Path, progress: Callable[[int], None] | None = None) -> ImportResult:
    return import_framework(session, parse_bundle(path), progress)


def is_imported(session: Session) -> bool:
    """Whether the full framework is in (not just the demo's placeholder rows)."""
    count = session.scalar(select(func.count()).select_from(Technique).where(Technique.is_placeholder.is_(False)))
    return bool(count)


def ensure_tactics(session: Session) -> None:
    """The 16 tactic columns exist, even before any import (ids and names only)."""
    known = set(session.scalars(select(Tactic.external_id)))
    for position, (external_id, shortname, name) in enumerate(TACTICS_IN_ORDER):
        if external_id not in known:
            session.add(Tactic(external_id=external_id, shortname=shortname, name=name, position=position))
    session.flush()


def ensure_placeholder_techniques(session: Session, wanted: dict[str, tuple[str, str]]) -> None:
    """Create rows for techniques known only by id, name and tactic id (used when DISARM is not imported)."""
    ensure_tactics(session)
    tactic_ids = dict(session.execute(select(Tactic.external_id, Tactic.id)).tuples().all())
    known = set(session.scalars(select(Technique.external_id)))
    for external_id, (name, tactic_external_id) in wanted.items():
        if external_id in known:
            continue
        technique = Technique(
            external_id=external_id,
            stix_id=placeholder_stix_id(external_id),
            name=name,
            url=TECHNIQUE_URL.format(external_id),
            parent_external_id=external_id.split(".")[0] if "." in external_id else None,
            is_subtechnique="." in external_id,
            is_placeholder=True,
        )
        session.add(technique)
        session.flush()
        session.add(TechniqueTactic(technique_id=technique.id, tactic_id=tactic_ids[tactic_external_id]))
    session.flush()
