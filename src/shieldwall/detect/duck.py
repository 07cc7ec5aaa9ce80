"""Small DuckDB helpers shared by the engine modules."""

from __future__ import annotations

import duckdb
import pyarrow as pa


def connect(threads: int | None = None, memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    if threads:
        con.execute(f"SET threads={int(threads)}")
    if memory_limit:
        con.execute("SET memory_limit=?", [memory_limit])
    return con


def arrow(con: duckdb.DuckDBPyConnection, query: str, params: list[object] | None = None) -> pa.Table:
    """A query's result as an Arrow table (without the DB-API copy)."""
    if params:
        return con.execute(query, params).to_arrow_table()
    return con.sql(query).to_arrow_table()
