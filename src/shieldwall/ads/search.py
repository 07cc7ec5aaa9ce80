"""Search the archive: full text plus filters, sorted and paged with stable keyset cursors.

One function, two engines: SQLite's FTS5 (an external-content index kept in step by triggers) and
PostgreSQL's tsvector with a GIN index (created by the migration). The 'simple' configuration and
unicode61 tokenizer are used on purpose: ads come in every language, so no stemming.
"""

from __future__ import annotations

import base64
import re
from dataclasses import asdict, dataclass, fields
from datetime import UTC, date, datetime
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    column,
    exists,
    false,
    func,
    literal_column,
    or_,
    select,
    table,
    text,
    true,
)
from sqlalchemy.orm import Session

from shieldwall.ads.document import fold
from shieldwall.ads.tables import Ad, Delivery

SORTS = {
    "newest": (Ad.delivery_start, "desc"),
    "oldest": (Ad.delivery_start, "asc"),
    "spend": (Ad.spend_lower, "desc"),
}
COMPLIANCE = ("compliant", "non_compliant", "unknown")
_WORD = re.compile(r"\w+", re.UNICODE)
_FTS_SQL = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS ads_fts USING fts5(search_text, content='ads_ads', content_rowid='id',"
    " tokenize='unicode61 remove_diacritics 2')",
    "CREATE VIRTUAL TABLE IF NOT EXISTS ads_fts_terms USING fts5vocab('ads_fts', 'row')",
    "CREATE TRIGGER IF NOT EXISTS ads_fts_insert AFTER INSERT ON ads_ads BEGIN"
    " INSERT INTO ads_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER IF NOT EXISTS ads_fts_delete AFTER DELETE ON ads_ads BEGIN"
    " INSERT INTO ads_fts(ads_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text); END",
    "CREATE TRIGGER IF NOT EXISTS ads_fts_update AFTER UPDATE OF search_text ON ads_ads BEGIN"
    " INSERT INTO ads_fts(ads_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text);"
    " INSERT INTO ads_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
)
_indexed: set[str] = set()
# The FTS5 table as SQLAlchemy sees it (a plain name: it is not a model, and is rebuilt on demand).
FTS = table("ads_fts", column("rowid"), column("ads_fts"))


class SearchError(ValueError):
    """A filter or cursor the caller got wrong; the message names it."""


def ensure_search_index(session: Session) -> None:
    """Create SQLite's FTS5 index (a rebuildable derivative of ads_ads) on first use."""
    bind = session.get_bind()
    if bind.dialect.name != "sqlite":
        return
    url = str(bind.engine.url)
    if url in _indexed:
        return
    present = session.execute(text("SELECT 1 FROM sqlite_master WHERE name = 'ads_fts'")).first()
    for statement in _FTS_SQL:
        session.execute(text(statement))
    if not present:
        session.execute(text("INSERT INTO ads_fts(ads_fts) VALUES ('rebuild')"))
    _indexed.add(url)


@dataclass
class AdFilters:
    q: str | None = None
    country: str | None = None
    region: str | None = None
    platform: str | None = None
    sponsor_id: int | None = None
    election: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    spend_min: int | None = None
    spend_max: int | None = None
    currency: str | None = None
    language: str | None = None
    compliance: str | None = None
    status: str | None = None
    undeclared_political: bool | None = None

    def as_query(self) -> dict[str, str]:
        return {k: str(v) for k, v in asdict(self).items() if v not in (None, "")}

    @classmethod
    def from_query(cls, params: dict[str, Any]) -> AdFilters:
        """From URL parameters (strings), with errors that name the parameter."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = params.get(f.name)
            if raw is None or raw == "":
                continue
            try:
                if f.name in ("sponsor_id", "spend_min", "spend_max"):
                    values[f.name] = int(raw)
                elif f.name in ("date_from", "date_to"):
                    values[f.name] = raw if isinstance(raw, date) else date.fromisoformat(str(raw))
                elif f.name == "undeclared_political":
                    values[f.name] = str(raw).lower() in ("1", "true", "yes", "on")
                else:
                    values[f.name] = str(raw).strip()
            except ValueError:
                raise SearchError(f"{f.name}: not a valid value ({raw!r})") from None
        if values.get("compliance") and values["compliance"] not in COMPLIANCE:
            raise SearchError(f"compliance: one of {', '.join(COMPLIANCE)}")
        return cls(**values)


def text_condition(session: Session, q: str) -> ColumnElement[bool]:
    """Every word of q must occur. Rare words go through the full-text index (collect the few matches,
    then filter and sort); common words are checked row by row while walking the filters' index in
    sort order, because the first page then fills after a few hundred rows instead of materialising a
    large share of the archive. Both give the same answer: whole folded words."""
    words = _WORD.findall(fold(q))
    if not words:
        return true()
    spaced: ColumnElement[str] = literal_column("' '") + Ad.search_text + literal_column("' '")
    if session.get_bind().dialect.name == "postgresql":
        shares = _postgres_word_shares(session)
        common = [w for w in words if shares.get(w, 0.0) > COMMON_SHARE]
        rare = [w for w in words if w not in common]
        checks = [spaced.contains(f" {word} ", autoescape=True) for word in common]
        if rare:
            # The GIN index answers the rare words alone: intersecting with a common word's huge
            # posting list would cost more than checking that word on the few rows left.
            simple: ColumnElement[Any] = literal_column("'simple'::regconfig")
            tsquery = func.plainto_tsquery(simple, " ".join(rare))
            checks.insert(0, func.to_tsvector(simple, Ad.search_text).op("@@")(tsquery))
        return and_(*checks)
    if _is_common(session, words):
        return and_(*(spaced.contains(f" {word} ", autoescape=True) for word in words))
    match = " ".join(f'"{w}"' for w in words)
    return Ad.id.in_(select(FTS.c.rowid).where(FTS.c.ads_fts.op("MATCH")(match)))


COMMON_SHARE = 0.02  # a word in more than 2% of ads (and at least 2,000) is "common"
COMMON_MINIMUM = 2_000


def _is_common(session: Session, words: list[str]) -> bool:
    """SQLite: true when even the rarest word occurs in a large share of the archive (FTS5 vocabulary)."""
    ensure_search_index(session)
    total = session.scalar(select(func.max(Ad.id))) or 0
    counts = [
        int(session.execute(text("SELECT doc FROM ads_fts_terms WHERE term = :term"), {"term": w}).scalar() or 0)
        for w in words
    ]
    return min(counts) >= max(COMMON_MINIMUM, COMMON_SHARE * total)


def _postgres_word_shares(session: Session) -> dict[str, float]:
    """PostgreSQL: the share of ads containing each of the index's most common words (from ANALYZE)."""
    row = session.execute(
        text(
            "SELECT most_common_elems::text::text[], most_common_elem_freqs "
            "FROM pg_stats WHERE tablename = 'ix_ads_ads_fulltext'"
        )
    ).first()
    if row is None or row[0] is None:
        return {}
    return dict(zip(row[0], row[1], strict=False))


def _postgres_words_are_common(session: Session, words: list[str]) -> bool:
    """PostgreSQL: true when every word is in more than COMMON_SHARE of ads. The planner multiplies
    selectivities as if words and filters were independent; words are not (German words live in
    German ads), so it underestimates and sorts a large bitmap. For common words an ordered index
    walk is always right, and search_ads says so."""
    shares = _postgres_word_shares(session)
    return bool(words) and min(shares.get(word, 0.0) for word in words) > COMMON_SHARE


def _day_start(value: date) -> datetime:
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def conditions(session: Session, filters: AdFilters) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if filters.q and filters.q.strip():
        where.append(text_condition(session, filters.q))
    if filters.country:
        where.append(Ad.country == filters.country.upper())
    if filters.platform:
        where.append(Ad.platform == filters.platform.lower())
    if filters.region:
        where.append(
            exists(
                select(Delivery.id).where(
                    Delivery.ad_id == Ad.id, Delivery.dimension == "region", Delivery.key == filters.region
                )
            )
        )
    if filters.sponsor_id is not None:
        s = filters.sponsor_id
        where.append(or_(Ad.sponsor_id == s, Ad.payer_sponsor_id == s, Ad.page_sponsor_id == s))
    if filters.election:
        where.append(Ad.election_key == filters.election)
    if filters.date_from:
        # Ads that were running at some point in [date_from, date_to].
        where.append(or_(Ad.delivery_stop.is_(None), Ad.delivery_stop >= _day_start(filters.date_from)))
    if filters.date_to:
        end = _day_start(filters.date_to).replace(hour=23, minute=59, second=59)
        where.append(Ad.delivery_start <= end)
    # Spend filters keep every ad whose spend range overlaps [spend_min, spend_max].
    if filters.spend_min is not None:
        where.append(or_(Ad.spend_upper.is_(None), Ad.spend_upper >= filters.spend_min))
    if filters.spend_max is not None:
        where.append(Ad.spend_lower <= filters.spend_max)
    if filters.currency:
        where.append(Ad.currency == filters.currency.upper())
    if filters.language:
        where.append(Ad.languages.contains(filters.language.lower()))
    if filters.compliance:
        where.append(Ad.compliance == filters.compliance)
    if filters.status:
        where.append(Ad.status == filters.status)
    if filters.undeclared_political is not None:
        where.append(Ad.undeclared_political == (true() if filters.undeclared_political else false()))
    return where


def encode_cursor(sort: str, value: Any, ad_id: int) -> str:
    if isinstance(value, datetime):
        value = value.astimezone(UTC).isoformat()
    return base64.urlsafe_b64encode(orjson.dumps([sort, value, ad_id])).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple[Any, int]:
    try:
        raw = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        cursor_sort, value, ad_id = raw
    except (ValueError, TypeError):
        raise SearchError("cursor: not a cursor this server issued") from None
    if cursor_sort != sort:
        raise SearchError("cursor: issued for another sort order")
    if sort in ("newest", "oldest") and value is not None:
        value = datetime.fromisoformat(value)
    return value, int(ad_id)


def _sort_value(ad: Ad, sort: str) -> Any:
    return ad.delivery_start if sort in ("newest", "oldest") else ad.spend_lower


def ordered_query(session: Session, filters: AdFilters, sort: str = "newest") -> Select[Any]:
    if sort not in SORTS:
        raise SearchError(f"sort: one of {', '.join(SORTS)}")
    column, direction = SORTS[sort]
    query = select(Ad).where(and_(true(), *conditions(session, filters)))
    if direction == "desc":
        return query.order_by(column.desc(), Ad.id.desc())
    return query.order_by(column.asc(), Ad.id.asc())


@dataclass
class Page:
    ads: list[Ad]
    next_cursor: str | None


def search_ads(
    session: Session, filters: AdFilters, sort: str = "newest", cursor: str | None = None, limit: int = 50
) -> Page:
    """One page of ads; pass `next_cursor` back to continue exactly where this page stopped, even if
    new ads arrive in between (keyset paging: no offsets, no duplicates, no gaps)."""
    query = ordered_query(session, filters, sort)
    column, direction = SORTS[sort]
    if cursor:
        value, last_id = decode_cursor(cursor, sort)
        if direction == "desc":
            query = query.where(or_(column < value, and_(column == value, Ad.id < last_id)))
        else:
            query = query.where(or_(column > value, and_(column == value, Ad.id > last_id)))
    ordered_walk = (
        session.get_bind().dialect.name == "postgresql"
        and bool(filters.q)
        and bool(words := _WORD.findall(fold(filters.q or "")))
        and _postgres_words_are_common(session, words)
    )
    if ordered_walk:
        session.execute(text("SET LOCAL enable_bitmapscan = off"))
        session.execute(text("SET LOCAL enable_sort = off"))
    try:
        rows = list(session.scalars(query.limit(limit + 1)))
    finally:
        if ordered_walk:
            session.execute(text("SET LOCAL enable_bitmapscan = on"))
            session.execute(text("SET LOCAL enable_sort = on"))
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(sort, _sort_value(rows[-1], sort), rows[-1].id) if more and rows else None
    return Page(rows, next_cursor)
