"""Meta Ad Library API (`/ads_archive`) responses: one JSON page per file ({"data": [...], "paging"}),
a JSON list of ads, or JSON Lines. Field names are the API's; EU 2024/900 extensions are read from an
optional "eu_transparency" object, and "removed_at" / "ad_status": "REMOVED" mark removals.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson

from shieldwall.ads.document import make_document
from shieldwall.ads.importers.base import Batch, Problem
from shieldwall.ads.normalise import clean_text, country_code, parse_range
from shieldwall.inputfiles import MAX_FIELD_CHARS, InputError, json_error, not_utf8, utf8_bytes


class RowError(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field


def read_meta(path: Path, batch_size: int) -> Iterator[Batch]:
    raw = utf8_bytes(path)  # BOM dropped, UTF-16 decoded; binary and empty files refused
    batch = Batch(source=str(path))
    for number, record in _records(path, raw):
        batch.rows_read += 1
        if isinstance(record, Problem):
            batch.problems.append(record)
        elif (oversize := _oversize(record)) is not None:
            batch.problems.append(Problem(str(path), number, oversize, f"over {MAX_FIELD_CHARS:,} characters"))
        else:
            try:
                batch.documents.append(meta_document(record))
                batch.lines.append(number)
            except RowError as error:
                batch.problems.append(Problem(str(path), number, error.field, str(error)))
        if batch.rows_read >= batch_size:
            yield batch
            batch = Batch(source=str(path))
    if batch.rows_read:
        yield batch


def _records(path: Path, raw: bytes) -> list[tuple[int, Any]]:
    """(record number, record or Problem). A JSON page or list numbers records by position; JSON Lines by
    line, where a line that is not JSON is one rejected record and the rest of the file still imports.
    A broken page (or a file with no JSON line at all) is unreadable: InputError at the failing line."""
    stripped = raw.lstrip()
    if stripped.startswith((b"{", b"[")):
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            if stripped.startswith(b"[") or not _first_line_is_json(stripped):
                raise InputError(path, *json_error(raw, error.pos, error.msg)) from None
        else:
            items = data.get("data", [data] if "id" in data else []) if isinstance(data, dict) else data
            if not isinstance(items, list):
                raise InputError(path, 1, "'data' is not a list of ads")
            return [(i + 1, item) for i, item in enumerate(items)]
    records: list[tuple[int, Any]] = []
    parsed_any = False
    for number, line in enumerate(raw.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            bad = not_utf8(line)
            reason = bad[1] if bad is not None else f"not JSON ({error.msg})"
            records.append((number, Problem(str(path), number, "(record)", reason)))
            continue
        parsed_any = True
        if isinstance(record, dict) and isinstance(record.get("data"), list) and "id" not in record:
            records += [(number, item) for item in record["data"]]  # an API page saved as one line
        else:
            records.append((number, record))
    if not parsed_any:
        first = records[0][1] if records else None
        raise InputError(path, first.line if first else None, first.reason if first else "no records")
    return records


def _oversize(record: Any) -> str | None:
    """The field holding a text over the limit for one value (an archive keeps ads, not megabytes)."""
    if not isinstance(record, dict):
        return None
    for key, value in record.items():
        values = value if isinstance(value, list) else [value]
        if any(isinstance(v, str) and len(v) > MAX_FIELD_CHARS for v in values):
            return str(key)
    return None


def _first_line_is_json(data: bytes) -> bool:
    try:
        orjson.loads(data.split(b"\n", 1)[0])
    except orjson.JSONDecodeError:
        return False
    return True


def _date(record: dict[str, Any], key: str) -> str | None:
    value = clean_text(record.get(key))
    if value is None:
        return None
    canonical = _canonical_date(value)
    if canonical is None:
        raise RowError(key, f"not an ISO 8601 date ({value!r})")
    return canonical


@lru_cache(maxsize=100_000)
def _canonical_date(value: str) -> str | None:
    """ISO 8601 text as naive-UTC ISO with a Z; None when unreadable. Cached: a page of ads shares a
    few thousand distinct start and stop times."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"


@lru_cache(maxsize=10_000)
def _bounds(lower: str | int | None, upper: str | int | None) -> tuple[int | None, int | None] | None:
    return parse_range({"lower": lower, "upper": upper})


def _range(record: dict[str, Any], key: str) -> list[int | None] | None:
    value = record.get(key)
    if value in (None, ""):
        return None
    lower = upper = None
    if isinstance(value, dict):  # the API's {lower_bound, upper_bound}: a few dozen distinct pairs
        lower = value.get("lower_bound", value.get("lower"))
        upper = value.get("upper_bound", value.get("upper"))
    if isinstance(value, dict) and all(v is None or type(v) in (str, int) for v in (lower, upper)):
        parsed = _bounds(lower, upper)
    else:
        parsed = parse_range(value)
    if parsed is None:
        raise RowError(key, f"not a range ({record[key]!r})")
    if parsed[1] is not None and parsed[0] is not None and parsed[0] > parsed[1]:
        raise RowError(key, f"lower bound above upper bound ({record[key]!r})")
    return list(parsed)


def _shares(items: Any, key_of: Any, field: str) -> list[dict[str, Any]]:
    if not items:
        return []
    if not isinstance(items, list):
        raise RowError(field, "not a list")
    rows = []
    for item in items:
        try:
            share = float(item.get("percentage", 0))
        except (TypeError, ValueError, AttributeError):
            raise RowError(field, f"bad percentage in {item!r}") from None
        rows.append({"key": key_of(item), "share": [share, share]})
    return rows


def meta_document(record: Any) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise RowError("(record)", "not a JSON object")
    ad_id = clean_text(record.get("id"))
    if not ad_id:
        raise RowError("id", "missing ad id")
    start = _date(record, "ad_delivery_start_time") or _date(record, "ad_creation_time")
    if start is None:
        raise RowError("ad_delivery_start_time", "missing")
    eu = record.get("eu_transparency") or {}
    if not isinstance(eu, dict):
        raise RowError("eu_transparency", "not an object")
    bodies = record.get("ad_creative_bodies") or []
    titles = record.get("ad_creative_link_titles") or []
    countries = record.get("ad_reached_countries") or []
    country = country_code(record.get("country") or (countries[0] if countries else None))
    bylines = clean_text(record.get("bylines")) or clean_text(record.get("funding_entity"))
    payer_ids = {k: str(v) for k, v in (eu.get("payer_ids") or record.get("payer_ids") or {}).items()}
    sponsor_ids = {k: str(v) for k, v in (eu.get("sponsor_ids") or record.get("sponsor_ids") or {}).items()}
    removed = _date(record, "removed_at")
    if removed is None and str(record.get("ad_status", "")).upper() == "REMOVED":
        removed = _date(record, "ad_delivery_stop_time") or start
    return make_document(
        platform=clean_text(record.get("platform")) or "meta",
        platform_ad_id=ad_id,
        page_id=clean_text(record.get("page_id")),
        page_name=clean_text(record.get("page_name")),
        funding_entity=bylines,
        payer_name=clean_text(eu.get("payer")) or clean_text(record.get("payer_name")) or bylines,
        payer_ids=payer_ids,
        sponsor_ids=sponsor_ids,
        controlling_entity=clean_text(eu.get("controlling_entity")),
        origin_of_funds=clean_text(eu.get("origin_of_funds")),
        body="\n".join(str(b) for b in [*bodies, *titles] if b),
        link_url=clean_text(record.get("ad_snapshot_url")),
        country=country,
        languages=[str(x) for x in record.get("languages") or []],
        delivery_start=start,
        delivery_stop=_date(record, "ad_delivery_stop_time"),
        currency=(clean_text(record.get("currency")) or "").upper() or None,
        spend=_range(record, "spend"),
        impressions=_range(record, "impressions"),
        election_key=clean_text(eu.get("election") or record.get("election_key")),
        declared_political=bool(record.get("declared_political", True)),
        regions=_shares(record.get("delivery_by_region"), lambda x: str(x.get("region")), "delivery_by_region"),
        demographics=_shares(
            record.get("demographic_distribution"),
            lambda x: f"{x.get('age', 'all ages')} {x.get('gender', 'all genders')}".lower(),
            "demographic_distribution",
        ),
        targeting={k: record[k] for k in ("target_ages", "target_gender", "target_locations") if record.get(k)},
        publisher_platforms=[str(x) for x in record.get("publisher_platforms") or []],
        removed_at=removed,
        extra={k: v for k, v in {"amounts": eu.get("amounts"), "sponsor": eu.get("sponsor")}.items() if v},
    )
