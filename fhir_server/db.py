"""Engine and session set-up for PostgreSQL and the embedded SQLite default.

Sessions are owned by the caller (a request, a CLI command, an adapter worker),
never by repository code: :func:`unit_of_work` commits or rolls back once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

#: Execution option a writer sets so SQLite takes the write lock at BEGIN.
SQLITE_IMMEDIATE = "sqlite_immediate"

#: The driver a URL without one gets. psycopg2 is on the design card and is the
#: driver every benchmark in docs/benchmarks.md ran on; SQLAlchemy 2.1 would pick
#: psycopg 3 for a bare ``postgresql://``, so the choice is made here, not by the library.
DEFAULT_POSTGRES_DRIVER = "psycopg2"
#: PostgreSQL drivers the write path supports (both are installed).
POSTGRES_DRIVERS = frozenset({"psycopg2", "psycopg"})


class UnsupportedDatabaseUrl(ValueError):
    """The URL names a database or driver the server cannot use; the message says which."""


def normalize_database_url(url: str) -> str:
    """The SQLAlchemy URL for a database URL as people write them.

    ``postgres://`` (what hosting platforms hand out) and ``postgresql://`` get the
    default driver; ``postgresql+psycopg2://`` and ``postgresql+psycopg://`` (psycopg 3)
    are kept; SQLite URLs pass unchanged.

    :raises UnsupportedDatabaseUrl: for an unparsable URL, another database, or another driver.
    """
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    try:
        parsed = make_url(url)
    except Exception as exc:  # SQLAlchemy raises ArgumentError or ValueError
        raise UnsupportedDatabaseUrl(f"`{url}` is not a database URL: {exc}") from exc
    backend, driver = parsed.get_backend_name(), parsed.drivername.partition("+")[2]
    if backend == "sqlite":
        return url
    if backend != "postgresql":
        raise UnsupportedDatabaseUrl(f"`{backend}` databases are not supported; use PostgreSQL or SQLite.")
    if not driver:
        return parsed.set(drivername=f"postgresql+{DEFAULT_POSTGRES_DRIVER}").render_as_string(hide_password=False)
    if driver not in POSTGRES_DRIVERS:
        raise UnsupportedDatabaseUrl(
            f"The PostgreSQL driver `{driver}` is not supported; use `postgresql://`, "
            "`postgresql+psycopg2://` or `postgresql+psycopg://`."
        )
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine for any URL :func:`normalize_database_url` accepts.

    Prepares the SQLite file and pragmas when needed.
    """
    url = normalize_database_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # No pool_pre_ping: it costs a round trip on every request. A connection the
        # server dropped fails one request, SQLAlchemy then invalidates the pool.
        kwargs.setdefault("pool_recycle", 1800)
        kwargs.setdefault("pool_size", 10)
        return create_engine(url, **kwargs)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)
    _configure_sqlite(engine)
    return engine


def make_autocommit_engine(engine: Engine) -> Engine:
    """An engine for one-statement work beside a request: revocation checks and audit records.

    On PostgreSQL each statement is its own transaction (``AUTOCOMMIT``: no BEGIN,
    no COMMIT, no ROLLBACK when the connection goes back to the pool), so a check
    or an insert costs one round trip instead of three. Its commits do not wait for
    the WAL flush (``synchronous_commit=off``): a row is safe once the database has
    it, whatever happens to this process, and a request does not pay a disk flush
    for its audit record. Nothing that must survive a database crash is written here.

    On SQLite it is ``engine`` itself: a statement there costs no round trip.
    """
    if engine.dialect.name != "postgresql":
        return engine
    autocommit = create_engine(
        engine.url,
        isolation_level="AUTOCOMMIT",
        pool_reset_on_return=None,
        pool_size=4,
        pool_recycle=1800,
        connect_args={"options": "-c synchronous_commit=off"},
    )
    # Its life is the main engine's: disposing of that (shutdown, the end of a test) disposes of this.
    event.listen(engine, "engine_disposed", lambda _engine: autocommit.dispose())
    return autocommit


def _configure_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling BEGINs lazily and deferred, so two
    # writers can both read version N and one then fails with "database is
    # locked" instead of waiting. We emit BEGIN ourselves: IMMEDIATE for
    # writers (they queue on the busy timeout), plain for readers, and WAL
    # lets readers proceed while a writer holds the lock.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get(SQLITE_IMMEDIATE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def begin_write(session: Session) -> None:
    """Mark the session's transaction as a writer before its first statement.

    On SQLite this makes BEGIN take the write lock up front; on PostgreSQL it is
    a no-op (row locks are taken with ``SELECT ... FOR UPDATE``).
    """
    if not session.in_transaction():
        session.connection(execution_options={SQLITE_IMMEDIATE: True})


@contextmanager
def unit_of_work(factory: sessionmaker[Session], *, write: bool = True) -> Iterator[Session]:
    """A session whose work is committed on success and rolled back on error."""
    session = factory()
    try:
        if write:
            begin_write(session)
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
