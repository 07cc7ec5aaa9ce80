"""Small DuckDB helpers shared by the engine modules."""

from __future__ import annotations

import os
import shutil
import tempfile

import duckdb
import pyarrow as pa

# DuckDB may use this share of the machine's memory before spilling to disk; the rest stays for the
# Arrow tables and NumPy work on the Python side.
MEMORY_SHARE = 0.45
# Spilled data may take this share of the free disk at most (DuckDB's own default, 90%, once filled a
# shared disk with 75 GB of pairs): a run that needs more stops with DuckDB's out-of-space error.
DISK_SHARE = 0.4


def default_memory_limit() -> str:
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return "4GB"
    return f"{max(1, int(total * MEMORY_SHARE / 2**20))}MB"


def connect(threads: int | None = None, memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    con.execute("SET preserve_insertion_order=false")
    con.execute("SET memory_limit=?", [memory_limit or default_memory_limit()])
    temp = os.path.join(tempfile.gettempdir(), f"shieldwall-duckdb-{os.getpid()}")
    con.execute("SET temp_directory=?", [temp])
    free = shutil.disk_usage(tempfile.gettempdir()).free
    con.execute("SET max_temp_directory_size=?", [f"{max(1, int(free * DISK_SHARE / 2**20))}MB"])
    if threads:
        con.execute(f"SET threads={int(threads)}")
    return con


def arrow(con: duckdb.DuckDBPyConnection, query: str, params: list[object] | None = None) -> pa.Table:
    """A query's result as an Arrow table (without the DB-API copy)."""
    if params:
        return con.execute(query, params).to_arrow_table()
    return con.sql(query).to_arrow_table()
