"""Bulk inserts: PostgreSQL's COPY (several times faster than multi-row INSERT), SQLite's executemany
(the driver's, called as it is). Both convert values column by column (only the JSON and datetime columns need
it) instead of sending every value of every row through SQLAlchemy's per-row parameter handling.

The COPY statement is composed with psycopg's identifier quoting from our own table definitions; the
INSERT is compiled by SQLAlchemy from the same definitions. Values always travel separately from SQL.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy import JSON, Table
from sqlalchemy.orm import Session

from shieldwall.store.base import UTCDateTime


def _json_text(value: Any) -> Any:
    return None if value is None else orjson.dumps(value).decode()


def _naive_utc(value: Any) -> Any:
    # What UTCDateTime does on the way in: naive UTC.
    if value is None or not isinstance(value, datetime):
        return value
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


@lru_cache(maxsize=100_000)
def _sqlite_datetime(value: Any) -> Any:
    # SQLAlchemy's SQLite DateTime storage format, the one its reads and comparisons expect. Cached:
    # a batch shares one observation time and a few thousand delivery dates.
    value = _naive_utc(value)
    return value if value is None else value.strftime("%Y-%m-%d %H:%M:%S.%f")


def _converter(column: Any, sqlite: bool) -> Callable[[Any], Any] | None:
    if isinstance(column.type, JSON):
        return _json_text
    if isinstance(column.type, UTCDateTime):
        return _sqlite_datetime if sqlite else _naive_utc
    return None


def _columns(table: Table, rows: list[dict[str, Any]], sqlite: bool) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Column names and one tuple per row, converted column by column."""
    names = [c.name for c in table.columns if c.name in rows[0]]
    getter = itemgetter(*names)
    columns = list(zip(*(getter(row) for row in rows), strict=True)) if len(names) > 1 else None
    if columns is None:
        return names, [(row[names[0]],) for row in rows]
    converted: list[Any] = []
    for name, values in zip(names, columns, strict=True):
        convert = _converter(table.c[name], sqlite)
        converted.append(values if convert is None else [convert(v) for v in values])
    return names, list(zip(*converted, strict=True))


def bulk_insert(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    dialect = session.get_bind().dialect
    sqlite = dialect.name == "sqlite"
    names, values = _columns(table, rows, sqlite)
    dbapi_connection: Any = session.connection().connection.dbapi_connection
    if sqlite:
        compiled = table.insert().compile(dialect=dialect, column_keys=names)
        order = [names.index(key) for key in compiled.positiontup or []]
        if order != list(range(len(names))):  # compiled in table order, as the tuples are: no-op
            values = [tuple(v[i] for i in order) for v in values]
        # Through SQLAlchemy's driver-level call (parameters passed as they are): its events see the write
        # (store.db queues a process's writers and watches the file from the first write statement).
        session.connection().exec_driver_sql(str(compiled), values)
        return
    from psycopg import sql

    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(sql.Identifier(n) for n in names)
    )
    with dbapi_connection.cursor() as cursor, cursor.copy(statement) as copy:
        for row in values:
            copy.write_row(row)
