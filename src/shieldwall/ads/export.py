"""Bulk export of any search, streamed: CSV, JSON Lines or Parquet, in keyset-paged chunks so memory
stays flat and no transaction is held open for the whole download."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from shieldwall.ads.search import AdFilters, search_ads
from shieldwall.ads.tables import Ad
from shieldwall.store.db import Database

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson",
    "parquet": "application/vnd.apache.parquet",
}
COLUMNS = [
    ("id", pa.int64()),
    ("platform", pa.string()),
    ("platform_ad_id", pa.string()),
    ("version", pa.int32()),
    ("status", pa.string()),
    ("removed_at", pa.string()),
    ("page_name", pa.string()),
    ("funding_entity", pa.string()),
    ("payer_name", pa.string()),
    ("payer_tax_id", pa.string()),
    ("sponsor_id", pa.int64()),
    ("country", pa.string()),
    ("languages", pa.string()),
    ("delivery_start", pa.string()),
    ("delivery_stop", pa.string()),
    ("currency", pa.string()),
    ("spend_lower", pa.int64()),
    ("spend_upper", pa.int64()),
    ("impressions_lower", pa.int64()),
    ("impressions_upper", pa.int64()),
    ("election_key", pa.string()),
    ("declared_political", pa.bool_()),
    ("political_score", pa.float64()),
    ("undeclared_political", pa.bool_()),
    ("compliance", pa.string()),
    ("compliance_issues", pa.string()),
    ("body", pa.string()),
    ("link_url", pa.string()),
]
SCHEMA = pa.schema(COLUMNS)
CHUNK = 5000


def ad_record(ad: Ad) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for name, _ in COLUMNS:
        value = getattr(ad, name)
        if isinstance(value, datetime):
            value = value.isoformat()
        if name == "compliance_issues":
            value = "; ".join(f"{i['jurisdiction']}: {i['item']}" for i in value or [])
        record[name] = value
    return record


def records(
    database: Database, filters: AdFilters, sort: str = "newest", max_rows: int | None = None
) -> Iterator[list[dict[str, Any]]]:
    cursor: str | None = None
    sent = 0
    while True:
        limit = CHUNK if max_rows is None else min(CHUNK, max_rows - sent)
        if limit <= 0:
            return
        with database.session() as session:
            page = search_ads(session, filters, sort=sort, cursor=cursor, limit=limit)
            chunk = [ad_record(ad) for ad in page.ads]
        if chunk:
            yield chunk
        sent += len(chunk)
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def stream_csv(chunks: Iterator[list[dict[str, Any]]]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[c for c, _ in COLUMNS])
    writer.writeheader()
    for chunk in chunks:
        writer.writerows(chunk)
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()


def stream_jsonl(chunks: Iterator[list[dict[str, Any]]]) -> Iterator[bytes]:
    for chunk in chunks:
        yield b"".join(orjson.dumps(r) + b"\n" for r in chunk)


class _Spool:
    """A write-only file the Parquet writer fills; what it wrote is handed on after each row group."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.position = 0
        self.closed = False

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def drain(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


def stream_parquet(chunks: Iterator[list[dict[str, Any]]]) -> Iterator[bytes]:
    spool = _Spool()
    with pq.ParquetWriter(pa.PythonFile(spool, mode="w"), SCHEMA, compression="zstd") as writer:
        for chunk in chunks:
            writer.write_table(pa.Table.from_pylist(chunk, schema=SCHEMA))
            yield spool.drain()
    yield spool.drain()


def stream(
    database: Database, filters: AdFilters, fmt: str, sort: str = "newest", max_rows: int | None = None
) -> Iterator[bytes]:
    chunks = records(database, filters, sort, max_rows)
    if fmt == "csv":
        return stream_csv(chunks)
    if fmt == "jsonl":
        return stream_jsonl(chunks)
    if fmt == "parquet":
        return stream_parquet(chunks)
    raise ValueError(f"format: one of {', '.join(FORMATS)}")
