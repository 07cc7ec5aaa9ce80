"""Search the archive: full text plus filters, sorted and paged with stable keyset cursors.

One function, two engines: SQLite's FTS5 (a contentless index of the text and of the equality-filter
values as facet tokens, kept in step by triggers) and PostgreSQL's tsvector with a GIN index, both
created by the ads migrations. The 'simple' configuration and unicode61 tokenizer are used on purpose:
ads come in every language, so no stemming.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from contextlib import contextmanager
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
    literal,
    literal_column,
    or_,
    select,
    table,
    true,
    tuple_,
)
from sqlalchemy.orm import Session, aliased

from shieldwall.ads.document import fold
from shieldwall.ads.tables import Ad, Delivery

SORTS = {
    "newest": (Ad.delivery_start, "desc"),
    "oldest": (Ad.delivery_start, "asc"),
    "spend": (Ad.spend_lower, "desc"),
}
COMPLIANCE = ("compliant", "non_compliant", "unknown")
_WORD = re.compile(r"\w+", re.UNICODE)
# SQLite's FTS5 table as SQLAlchemy sees it: not a model, the ads migrations create and fill it.
FTS = table("ads_fts", column("rowid"), column("ads_fts"))


# Bounds of what a search may ask for. Ids and amounts beyond the columns' integer types cannot match
# anything (and would overflow the drivers); every word of a query is one condition, and SQLite refuses
# an expression tree deeper than 1,000.
MAX_BIGINT = 2**63 - 1
MAX_SPONSOR_ID = 2**31 - 1
MAX_WORDS = 50
MAX_QUERY_CHARS = 2_000
MAX_FILTER_CHARS = 200  # a country, region, language, platform, election key, status or currency
INT_BOUNDS = {"sponsor_id": (1, MAX_SPONSOR_ID), "spend_min": (0, MAX_BIGINT), "spend_max": (0, MAX_BIGINT)}


class SearchError(ValueError):
    """A filter or cursor the caller got wrong; the message names it."""


class SearchLimit(SearchError):
    """A filter beyond a documented bound (too many words, a number out of range): answered with 422."""


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
                if f.name in INT_BOUNDS:
                    values[f.name] = _bounded(f.name, int(raw))
                elif f.name in ("date_from", "date_to"):
                    values[f.name] = raw if isinstance(raw, date) else date.fromisoformat(str(raw))
                elif f.name == "undeclared_political":
                    values[f.name] = str(raw).lower() in ("1", "true", "yes", "on")
                else:
                    values[f.name] = str(raw).strip()
                    if "\x00" in values[f.name]:  # PostgreSQL refuses it, once an export has started streaming
                        raise ValueError(f.name)
                    # (q has its own bounds, check_query.) SQLite refuses a LIKE pattern over 50,000 bytes.
                    length = len(values[f.name])
                    if f.name != "q" and length > MAX_FILTER_CHARS:
                        raise SearchLimit(f"{f.name}: at most {MAX_FILTER_CHARS} characters (got {length:,})")
            except SearchLimit:
                raise
            except ValueError:
                raise SearchError(f"{f.name}: not a valid value ({str(raw)[:40]!r})") from None
        if values.get("compliance") and values["compliance"] not in COMPLIANCE:
            raise SearchError(f"compliance: one of {', '.join(COMPLIANCE)}")
        check_query(values.get("q"))
        return cls(**values)


def _bounded(name: str, value: int) -> int:
    low, high = INT_BOUNDS[name]
    if not low <= value <= high:
        raise SearchLimit(f"{name}: a whole number from {low} to {high}")
    return value


def check_query(q: str | None) -> None:
    """Refuse a text query beyond MAX_WORDS words or MAX_QUERY_CHARS characters, saying so."""
    if not q:
        return
    words = len(query_words(q))
    if words > MAX_WORDS:
        raise SearchLimit(f"q: at most {MAX_WORDS} words (got {words:,}); keep the most distinctive ones")
    if len(q) > MAX_QUERY_CHARS:
        raise SearchLimit(f"q: at most {MAX_QUERY_CHARS:,} characters (got {len(q):,})")


def query_words(q: str | None) -> list[str]:
    """The folded whole words of a query, as they are stored in `search_text`."""
    return _WORD.findall(fold(q or ""))


def word_checks(words: list[str], search_text: Any = Ad.search_text) -> list[ColumnElement[bool]]:
    """Whole-word tests on the stored text (folded words between single spaces): the exact meaning of
    a text search on both engines; the full-text indexes only narrow down the rows to test."""
    spaced: ColumnElement[str] = literal_column("' '") + search_text + literal_column("' '")
    return [spaced.contains(f" {word} ", autoescape=True) for word in words]


def facet_terms(filters: AdFilters) -> list[str]:
    """The equality filters as the facet tokens of SQLite's FTS5 table (its `facets` column, filled by
    the triggers of the ads migrations): facet name + the value's UTF-8 bytes in hex, the value
    normalised exactly as `conditions` compares it. Every ad passing these filters has these tokens, so
    adding them to the MATCH only narrows the candidates; `conditions` still decides."""
    values: list[tuple[str, str]] = []
    if filters.country:
        values.append(("country", filters.country.upper()))
    if filters.platform:
        values.append(("platform", filters.platform.lower()))
    if filters.status:
        values.append(("status", filters.status))
    if filters.compliance:
        values.append(("compliance", filters.compliance))
    if filters.currency:
        values.append(("currency", filters.currency.upper()))
    if filters.election:
        values.append(("election", filters.election))
    if filters.sponsor_id is not None:  # any of the three sponsor columns: each has its token
        values.append(("sponsor", str(filters.sponsor_id)))
    if filters.undeclared_political is not None:
        values.append(("undeclared", "1" if filters.undeclared_political else "0"))
    return [name + value.encode("utf-8").hex() for name, value in values]


def fts_match(words: list[str], facets: list[str]) -> str:
    """An FTS5 query (passed as a bound parameter): every word as a quoted phrase in the ad's text and
    every facet token in the facets column, so FTS5 intersects the posting lists itself."""

    def quoted(term: str) -> str:
        return '"' + term.replace('"', '""') + '"'

    return " AND ".join([f"search_text : {quoted(w)}" for w in words] + [f"facets : {quoted(t)}" for t in facets])


def text_condition(session: Session, q: str, filters: AdFilters | None = None) -> ColumnElement[bool]:
    """Every word of q must occur, as a whole folded word, through the full-text index: PostgreSQL's
    GIN index over to_tsvector('simple', search_text) (with the equality-filter columns in the same
    index where btree_gin is available) or SQLite's FTS5 (with the equality filters as facet tokens in
    the same index) finds candidates, the word checks confirm them. search_ads tries an ordered walk
    without the index first (see WALK_BUDGET)."""
    check_query(q)
    words = query_words(q)
    if not words:
        return true()
    if session.get_bind().dialect.name == "postgresql":
        simple: ColumnElement[Any] = literal_column("'simple'::regconfig")
        tsquery = func.plainto_tsquery(simple, " ".join(words))
        return and_(func.to_tsvector(simple, Ad.search_text).op("@@")(tsquery), *word_checks(words))
    match = fts_match(words, facet_terms(filters) if filters is not None else [])
    return and_(Ad.id.in_(select(FTS.c.rowid).where(FTS.c.ads_fts.op("MATCH")(match))), *word_checks(words))


# How many rows, in sort order, the first attempt reads before it gives the page up to the full-text
# index. Reading one row costs a few microseconds from memory, so 2,000 rows stay near 5-10 ms; a word
# that fills fewer than a page of them is rare enough among the filtered ads for the index.
WALK_BUDGET = 2_000


def _day_start(value: date) -> datetime:
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def conditions(session: Session, filters: AdFilters, with_text: bool = True, ad: Any = Ad) -> list[ColumnElement[bool]]:
    """The filters as conditions on `ad` (the Ad model, or an alias of it in a subquery)."""
    where: list[ColumnElement[bool]] = []
    if with_text and filters.q and filters.q.strip():
        where.append(text_condition(session, filters.q, filters))
    if filters.country:
        where.append(ad.country == filters.country.upper())
    if filters.platform:
        where.append(ad.platform == filters.platform.lower())
    if filters.region:
        where.append(
            exists(
                select(Delivery.id).where(
                    Delivery.ad_id == ad.id, Delivery.dimension == "region", Delivery.key == filters.region
                )
            )
        )
    if filters.sponsor_id is not None:
        s = filters.sponsor_id
        where.append(or_(ad.sponsor_id == s, ad.payer_sponsor_id == s, ad.page_sponsor_id == s))
    if filters.election:
        where.append(ad.election_key == filters.election)
    if filters.date_from:
        # Ads that were running at some point in [date_from, date_to].
        where.append(or_(ad.delivery_stop.is_(None), ad.delivery_stop >= _day_start(filters.date_from)))
    if filters.date_to:
        end = _day_start(filters.date_to).replace(hour=23, minute=59, second=59)
        where.append(ad.delivery_start <= end)
    # Spend filters keep every ad whose spend range overlaps [spend_min, spend_max].
    if filters.spend_min is not None:
        where.append(or_(ad.spend_upper.is_(None), ad.spend_upper >= filters.spend_min))
    if filters.spend_max is not None:
        where.append(ad.spend_lower <= filters.spend_max)
    if filters.currency:
        where.append(ad.currency == filters.currency.upper())
    if filters.language:
        where.append(ad.languages.contains(filters.language.lower()))
    if filters.compliance:
        where.append(ad.compliance == filters.compliance)
    if filters.status:
        where.append(ad.status == filters.status)
    if filters.undeclared_political is not None:
        where.append(ad.undeclared_political == (true() if filters.undeclared_political else false()))
    return where


def encode_cursor(sort: str, value: Any, ad_id: int) -> str:
    if isinstance(value, datetime):
        value = value.astimezone(UTC).isoformat()
    return base64.urlsafe_b64encode(orjson.dumps([sort, value, ad_id])).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple[Any, int]:
    not_ours = SearchError("cursor: not a cursor this server issued")
    if len(cursor) > 200:  # ours are about 60 characters
        raise not_ours
    try:
        raw = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        cursor_sort, value, ad_id = raw
    except (ValueError, TypeError):
        raise not_ours from None
    if cursor_sort != sort:
        raise SearchError("cursor: issued for another sort order")
    if type(ad_id) is not int or not 0 <= ad_id <= MAX_BIGINT:
        raise not_ours
    if value is None:
        return None, ad_id
    if sort in ("newest", "oldest"):
        try:
            value = datetime.fromisoformat(value)
            if value.tzinfo is None:
                raise not_ours
            value = value.astimezone(UTC)
        except (TypeError, ValueError, OverflowError):
            raise not_ours from None
    elif type(value) is not int or not -MAX_BIGINT <= value <= MAX_BIGINT:
        raise not_ours
    return value, ad_id


def _sort_value(ad: Ad, sort: str) -> Any:
    return ad.delivery_start if sort in ("newest", "oldest") else ad.spend_lower


def _order(sort: str, entity: Any = Ad) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    column, direction = SORTS[sort]
    column = getattr(entity, column.key)
    if direction == "desc":
        return column.desc(), entity.id.desc()
    return column.asc(), entity.id.asc()


def _after(sort: str, cursor: str | None) -> list[ColumnElement[bool]]:
    """The keyset condition: rows strictly after the cursor's (sort value, id) in sort order. A row
    comparison, so PostgreSQL starts the index walk at the cursor instead of filtering up to it."""
    if not cursor:
        return []
    column, direction = SORTS[sort]
    value, last_id = decode_cursor(cursor, sort)
    key = tuple_(column, Ad.id)
    bound = tuple_(literal(value, column.type), literal(last_id, Ad.id.type))
    return [key < bound if direction == "desc" else key > bound]


def ordered_query(session: Session, filters: AdFilters, sort: str = "newest") -> Select[Any]:
    if sort not in SORTS:
        raise SearchError(f"sort: one of {', '.join(SORTS)}")
    return select(Ad).where(and_(true(), *conditions(session, filters))).order_by(*_order(sort))


@dataclass
class Page:
    ads: list[Ad]
    next_cursor: str | None


def search_ads(
    session: Session, filters: AdFilters, sort: str = "newest", cursor: str | None = None, limit: int = 50
) -> Page:
    """One page of ads; pass `next_cursor` back to continue exactly where this page stopped, even if
    new ads arrive in between (keyset paging: no offsets, no duplicates, no gaps)."""
    if sort not in SORTS:
        raise SearchError(f"sort: one of {', '.join(SORTS)}")
    check_query(filters.q)
    after = _after(sort, cursor)
    words = query_words(filters.q)
    rows: list[Ad] | None = None
    if words and session.get_bind().dialect.name == "postgresql":
        rows = _postgres_walk(session, filters, sort, after, words, limit + 1)
        if rows is None:
            rows = _postgres_indexed(session, filters, sort, after, limit + 1)
    elif words:
        rows = _sqlite_walk(session, filters, sort, after, words, limit + 1)
    if rows is None:
        query = ordered_query(session, filters, sort).where(*after)
        rows = list(session.scalars(query.limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(sort, _sort_value(rows[-1], sort), rows[-1].id) if more and rows else None
    return Page(rows, next_cursor)


# Planner settings for the two PostgreSQL attempts, set for one statement and then restored. They pin
# the plan's shape so that no statistic (word frequencies are the fragile ones: they come from a sample,
# and words are not independent of countries or languages) can turn a 5 ms page into a 500 ms one.
# Parallel workers are off: for one page they cost more to start than they save, on a busy server.
_WALK_SETTINGS = {"enable_sort": "off", "enable_bitmapscan": "off", "max_parallel_workers_per_gather": "0"}
_INDEXED_SETTINGS = {"enable_indexscan": "off", "enable_seqscan": "off", "max_parallel_workers_per_gather": "0"}


@contextmanager
def _planner(session: Session, settings: dict[str, str]) -> Iterator[None]:
    before = {name: session.execute(select(func.current_setting(name))).scalar_one() for name in settings}
    for name, value in settings.items():
        session.execute(select(func.set_config(name, value, true())))
    try:
        yield
    finally:
        for name, value in before.items():
            session.execute(select(func.set_config(name, value, true())))


def _postgres_walk(
    session: Session, filters: AdFilters, sort: str, after: list[ColumnElement[bool]], words: list[str], want: int
) -> list[Ad] | None:
    """First attempt: read the filtered ads in sort order through a btree index, at most WALK_BUDGET of
    them, and keep those containing the words. Common words fill the page after a few hundred rows.
    None when the budget ran out first (the words are rare among these ads): then the index decides."""
    order = _order(sort)
    candidates = (
        select(Ad, func.row_number().over(order_by=order).label("walked"))
        .where(and_(true(), *_walk_range(filters, sort), *after))
        .order_by(*order)
        .limit(WALK_BUDGET)
        .subquery("walk")
    )
    walked = aliased(Ad, candidates)
    hit = and_(*word_checks(words, walked.search_text), *conditions(session, filters, with_text=False, ad=walked))
    # The budget's last row comes back too, matching or not: it says the walk stopped short.
    last = candidates.c.walked == WALK_BUDGET
    query = (
        select(walked, hit.label("hit"), last.label("last"))
        .where(or_(hit, last))
        .order_by(*_order(sort, walked))
        .limit(want + 1)
    )
    with _planner(session, _WALK_SETTINGS):
        result = session.execute(query).all()
    rows = [ad for ad, matched, _ in result if matched][:want]
    stopped_short = any(is_last for _, _, is_last in result)
    return rows if len(rows) >= want or not stopped_short else None


def _walk_range(filters: AdFilters, sort: str) -> list[ColumnElement[bool]]:
    """What the walk's btree index answers by itself: one equality column leading an index that ends in
    the sort key ((country|platform, delivery_start, id) or (country, spend_lower, id)), and a bound on
    the sort key. The budget then counts index entries read, whatever the other filters keep."""
    where: list[ColumnElement[bool]] = []
    if filters.country:
        where.append(Ad.country == filters.country.upper())
    elif filters.platform and sort != "spend":
        where.append(Ad.platform == filters.platform.lower())
    if filters.date_to and sort != "spend":
        where.append(Ad.delivery_start <= _day_start(filters.date_to).replace(hour=23, minute=59, second=59))
    if filters.spend_max is not None and sort == "spend":
        where.append(Ad.spend_lower <= filters.spend_max)
    return where


def _sqlite_walk(
    session: Session, filters: AdFilters, sort: str, after: list[ColumnElement[bool]], words: list[str], want: int
) -> list[Ad] | None:
    """SQLite's first attempt, the same walk as on PostgreSQL: ids in sort order with a match flag,
    read from the driver's cursor one by one, so SQLite stops stepping once the page is full (an outer
    ORDER BY would make it read the whole budget first). None when the budget ran out: then FTS5."""
    hit = and_(*word_checks(words), *conditions(session, filters, with_text=False))
    query = (
        select(Ad.id, hit.label("hit"))
        .where(and_(true(), *_walk_range(filters, sort), *after))
        .order_by(*_order(sort))
        .limit(WALK_BUDGET)
    )
    found: list[int] = []
    read = 0
    # Core execution with a small fetch buffer: rows are stepped as they are read (an ORM result
    # would fetch the whole budget up front).
    result = session.connection().execute(query.execution_options(yield_per=64))
    try:
        for ad_id, matched in result:
            read += 1
            if matched:
                found.append(ad_id)
                if len(found) >= want:
                    break
    finally:
        result.close()
    if len(found) < want and read >= WALK_BUDGET:
        return None
    loaded = {ad.id: ad for ad in session.scalars(select(Ad).where(Ad.id.in_(found)))} if found else {}
    return [loaded[ad_id] for ad_id in found]


def _postgres_indexed(
    session: Session, filters: AdFilters, sort: str, after: list[ColumnElement[bool]], want: int
) -> list[Ad]:
    """Second attempt: the GIN index finds the ads with every word (and the equality filters, when
    btree_gin put their columns in the same index), so only true matches are read and sorted."""
    query = ordered_query(session, filters, sort).where(*after).limit(want)
    with _planner(session, _INDEXED_SETTINGS):
        return list(session.scalars(query))
