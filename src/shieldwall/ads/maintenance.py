"""Archive-wide maintenance: re-apply disclosure rules and the classifier, manage elections.

Rechecking updates only the derived columns (compliance, scores); the versions stay untouched,
because neither the ad nor what the platform published changed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from sqlalchemy import and_, bindparam, func, select, update
from sqlalchemy.orm import Session

from shieldwall.ads.archive import POLITICAL_THRESHOLD, Scorer, load_elections
from shieldwall.ads.disclosure import evaluate
from shieldwall.ads.document import classifier_text
from shieldwall.ads.tables import Ad, AdVersion, Election, ads_table
from shieldwall.store.db import Database
from shieldwall.threatmodel.tables import ELECTION_LEVELS

CHUNK = 5000


# The ad library's older election kinds, as the registry's levels.
KIND_TO_LEVEL = {"general": "national", "local": "municipal"}


def upsert_election(session: Session, key: str, name: str, country: str, kind: str, when: date | datetime) -> Election:
    """Add (or update) an election in the hub's one registry, keyed by its slug. A new one belongs to the
    hub (the operator's command line); the threat model's pages and API change it like any other."""
    from shieldwall.threatmodel.elections import ElectionError, ElectionInput, create_election

    level = KIND_TO_LEVEL.get(kind, kind)
    day = when.date() if isinstance(when, datetime) else when
    election = session.scalar(select(Election).where(Election.slug == key))
    if election is None:
        return create_election(session, ElectionInput(country, level, name, day, slug=key))
    if level not in ELECTION_LEVELS:
        raise ElectionError(f"level {level!r} is not one of {', '.join(ELECTION_LEVELS)}")
    election.name, election.country, election.level, election.election_date = name, country, level, day
    session.flush()
    return election


def count_ads(database: Database) -> int:
    with database.session() as session:
        return int(session.scalar(select(func.count()).select_from(Ad)) or 0)


def recheck(database: Database, scorer: Scorer | None, progress: Callable[[int], None] | None = None) -> int:
    """Every ad's compliance and score again, a chunk at a time (progress: told each chunk's size)."""
    last_id, done = 0, 0
    while True:
        with database.session() as session:
            elections = load_elections(session)
            rows = session.execute(
                select(Ad.id, AdVersion.document)
                .join(AdVersion, and_(AdVersion.ad_id == Ad.id, AdVersion.version == Ad.version))
                .where(Ad.id > last_id)
                .order_by(Ad.id)
                .limit(CHUNK)
            ).all()
            if not rows:
                return done
            scores = list(scorer([classifier_text(doc) for _, doc in rows])) if scorer else [None] * len(rows)
            updates = []
            for (ad_id, doc), score in zip(rows, scores, strict=True):
                status, issues = evaluate(doc, elections)
                updates.append(
                    {
                        "b_id": ad_id,
                        "b_compliance": status,
                        "b_issues": issues,
                        "b_score": None if score is None else float(score),
                        "b_undeclared": bool(
                            score is not None
                            and score >= POLITICAL_THRESHOLD
                            and not doc.get("declared_political", True)
                        ),
                    }
                )
            session.connection().execute(
                update(ads_table)
                .where(ads_table.c.id == bindparam("b_id"))
                .values(
                    compliance=bindparam("b_compliance"),
                    compliance_issues=bindparam("b_issues"),
                    political_score=bindparam("b_score"),
                    undeclared_political=bindparam("b_undeclared"),
                ),
                updates,
            )
            last_id = rows[-1][0]
            done += len(rows)
        if progress is not None:
            progress(len(rows))
