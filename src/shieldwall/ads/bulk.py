"""Bulk inserts: PostgreSQL's COPY (several times faster than multi-row INSERT), SQLite's executemany.

The COPY statement is composed with psycopg's identifier quoting from our own table definitions, and
values travel separately from the SQL as always.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import JSON, Table
from sqlalchemy.orm import Session


def _copy_value(value: Any, is_json: bool) -> Any:
    if value is None:
        return None
    if is_json:
        return orjson.dumps(value).decode()
    if isinstance(value, datetime):
        # What UTCDateTime does on the way in: naive UTC.
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    return value


def bulk_insert(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql":
        session.execute(table.insert(), rows)
        return
    from psycopg import sql

    columns = [c for c in table.columns if c.name in rows[0]]
    json_flags = [isinstance(c.type, JSON) for c in columns]
    names = [c.name for c in columns]
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(sql.Identifier(n) for n in names)
    )
    dbapi_connection: Any = session.connection().connection.dbapi_connection
    with dbapi_connection.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row([_copy_value(row[n], j) for n, j in zip(names, json_flags, strict=True)])
