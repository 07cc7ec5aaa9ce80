"""Engine and session factory. SQLite gets WAL and a busy timeout so readers never block the writer.

A SQLite database is one file, and a file can be removed, replaced or made read-only under a running
server, which SQLite does not notice (its open handles keep writing to the orphaned file). The engine
therefore watches the file it opened: a write transaction commits only while the file is still the one
opened at start and writable, else it fails with DatabaseUnavailable (the web app answers 503), and a
Database that opened an existing file never creates a new, empty one in its place.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker


class DatabaseUnavailable(RuntimeError):
    """The database cannot take work now (file removed, replaced, read-only, unreachable); says which."""


BUSY_TIMEOUT_S = 30


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
    cursor.close()


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL; None for other databases and in-memory or URI-style SQLite."""
    if not url.startswith("sqlite"):
        return None
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).resolve()


class FileWatch:
    """The identity (device, inode) of a SQLite file, pinned when it is first opened, and whether the file
    there now is still that one and writable. `problem()` is cached for a second; `problem(fresh=True)`
    costs one os.stat."""

    TTL = 1.0

    def __init__(self, path: Path) -> None:
        self.path = path
        self.identity: tuple[int, int] | None = None
        self._checked = 0.0
        self._problem: str | None = None

    def pin(self) -> None:
        if self.identity is None:
            try:
                st = os.stat(self.path)
            except FileNotFoundError:  # not created yet: pinned by the next connection
                return
            self.identity = (st.st_dev, st.st_ino)

    def problem(self, *, fresh: bool = False) -> str | None:
        now = time.monotonic()
        if fresh or now - self._checked >= self.TTL:
            self._problem, self._checked = self._look(), now
        return self._problem

    def _look(self) -> str | None:
        if self.identity is None:
            return None
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return (
                f"the database file {self.path} was removed while the hub was running: writes are refused; "
                "restore it from a backup and restart"
            )
        except OSError as error:
            return f"the database file {self.path} cannot be checked: {error.strerror}"
        if (st.st_dev, st.st_ino) != self.identity:
            return f"the database file {self.path} was replaced while the hub was running: restart the hub to use it"
        # Write bits, not os.access alone: root may write anything, but a file its operator made
        # read-only is meant to stay unchanged.
        if not st.st_mode & 0o222 or not os.access(self.path, os.W_OK):
            return f"the database file {self.path} is read-only: writes are refused"
        return None


_WRITE = re.compile(
    r"\s*(INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER|WITH\b.*\b(INSERT|UPDATE|DELETE))", re.IGNORECASE | re.DOTALL
)


def _watch_sqlite(engine: Engine, watch: FileWatch) -> None:
    # SQLite lets one connection write at a time; the others wait in its busy handler, which sleeps between
    # attempts (up to 100 ms) and so favours whoever started waiting last: with 16 TAXII writers beside an
    # import in another process, a POST waited over 30 s and was refused. This process's writers therefore
    # queue on a lock from their first write statement until their transaction ends, and only the first in
    # line waits in SQLite's busy handler (for other processes' writers).
    writers = threading.Lock()

    def leave(info: dict[str, Any]) -> None:
        if info.pop("queued", False):
            writers.release()

    @event.listens_for(engine, "before_cursor_execute")
    def refuse_writes(conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, _many: bool) -> None:
        if _WRITE.match(statement):
            conn.info["wrote"] = True
            problem = watch.problem()
            if problem:
                raise DatabaseUnavailable(problem)
            if not conn.info.get("queued"):
                if not writers.acquire(timeout=BUSY_TIMEOUT_S):
                    raise DatabaseUnavailable(f"the database stayed busy for {BUSY_TIMEOUT_S} s; try again")
                conn.info["queued"] = True

    @event.listens_for(engine, "commit")
    def check_before_commit(conn: Any) -> None:
        # One os.stat per write transaction: nothing is acknowledged into an orphaned or frozen file.
        if conn.info.pop("wrote", False):
            problem = watch.problem(fresh=True)
            if problem:
                raise DatabaseUnavailable(problem)
        # Just before COMMIT: the next in line then waits in SQLite's busy handler only for the commit.
        leave(conn.info)

    @event.listens_for(engine, "rollback")
    def forget(conn: Any) -> None:
        conn.info.pop("wrote", None)
        leave(conn.info)

    @event.listens_for(engine.pool, "reset")
    @event.listens_for(engine.pool, "invalidate")
    def released(_dbapi_connection: Any, record: Any, *_: Any) -> None:
        leave(record.info)  # a connection that ends otherwise (returned to the pool, invalidated) leaves too


def make_engine(url: str, watch: FileWatch | None = None) -> Engine:
    if url.startswith("sqlite"):
        options: dict[str, Any] = {"pool_size": 20, "max_overflow": 20}
        if watch is not None:
            options["creator"] = _sqlite_creator(watch)
        else:
            options["connect_args"] = {"check_same_thread": False}
        engine = create_engine(url, **options)
        event.listen(engine, "connect", _sqlite_pragmas)
        if watch is not None:
            _watch_sqlite(engine, watch)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_size=20, max_overflow=20, pool_pre_ping=True)


def _sqlite_creator(watch: FileWatch) -> Any:
    def connect() -> sqlite3.Connection:
        if watch.identity is None:  # the first connection may create the file (tests, init-db)
            connection = sqlite3.connect(watch.path, check_same_thread=False)
            watch.pin()
            return connection
        problem = watch.problem(fresh=True)
        if problem and "read-only" not in problem:  # reads of a read-only file still work
            raise DatabaseUnavailable(problem)
        # mode=rw: a file that existed is never silently re-created empty.
        return sqlite3.connect(f"{watch.path.as_uri()}?mode=rw", uri=True, check_same_thread=False)

    return connect


class Database:
    """Owns the engine; hands out sessions that commit on success and roll back on any error."""

    def __init__(self, url: str) -> None:
        self.url = url
        path = sqlite_file(url)
        self.watch = FileWatch(path) if path is not None else None
        if self.watch is not None and self.watch.path.exists():
            self.watch.pin()
        self.engine = make_engine(url, self.watch)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction; callables in `session.info["after_commit"]` run once it has committed."""
        with self.sessions() as session:
            with session.begin():
                yield session
            for callback in session.info.pop("after_commit", []):
                callback()

    def health(self) -> str | None:
        """None when the database takes writes, else what is wrong: the file is the one opened at start
        and writable, and a trivial query answers."""
        if self.watch is not None:
            problem = self.watch.problem(fresh=True)
            if problem:
                return problem
        probe = "SELECT count(*) FROM sqlite_master" if self.is_sqlite else "SELECT 1"
        try:
            with self.engine.connect() as connection:
                connection.execute(text(probe))
        except (SQLAlchemyError, DatabaseUnavailable) as error:
            return f"the database does not answer: {getattr(error, 'orig', None) or error}"
        return None

    def dispose(self) -> None:
        self.engine.dispose()
