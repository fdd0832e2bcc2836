"""Revocations reach every process by PostgreSQL notification: no query per request, none missed."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from flask import Flask
from flask.testing import FlaskClient
from joserfc.jws import extract_compact
from sqlalchemy import Engine, event, text

from fhir_server.auth.revocations import APPLICATION_NAME, RevocationWatch
from fhir_server.db import make_autocommit_engine, make_engine
from models import AuthRevokedToken


def _until(condition: Callable[[], bool], seconds: float = 5) -> float:
    """Seconds until ``condition`` held; fails after ``seconds``."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < seconds, "timed out"
        time.sleep(0.005)
    return time.monotonic() - start


def _revoke_elsewhere(database_url: str, jti: str) -> None:
    """Revoke as another server process would: its own engine, its own transaction."""
    other = make_engine(database_url)
    try:
        with other.begin() as connection:
            connection.execute(
                AuthRevokedToken.__table__.insert(),
                {"jti": jti, "expires": datetime.now(UTC) + timedelta(hours=1)},
            )
    finally:
        other.dispose()


def _listeners(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = :name "
                    "AND datname = current_database()"
                ),
                {"name": APPLICATION_NAME},
            ).scalar_one()
        )


@pytest.fixture
def pg_url(database_url: str) -> str:
    if not database_url.startswith("postgresql"):
        pytest.skip("notifications are PostgreSQL's; SQLite checks the table per request")
    return database_url


@pytest.fixture
def watched(pg_url: str) -> Iterator[tuple[Engine, Engine, RevocationWatch]]:
    """The main engine, the autocommit engine the watch queries with, and the live watch."""
    engine = make_engine(pg_url)
    autocommit = make_autocommit_engine(engine)
    watch = RevocationWatch(autocommit)
    assert watch.start()
    _until(lambda: watch.live)
    yield engine, autocommit, watch
    engine.dispose()


def test_sqlite_has_no_listener_and_checks_the_table(database_url: str) -> None:
    if database_url.startswith("postgresql"):
        pytest.skip("the SQLite case")
    engine = make_engine(database_url)
    try:
        watch = RevocationWatch(make_autocommit_engine(engine))
        assert watch.start() is False and not watch.live
        assert not watch.is_revoked("a")
        _revoke_elsewhere(database_url, "a")
        assert watch.is_revoked("a")
    finally:
        engine.dispose()


def test_another_process_revocation_is_known_within_milliseconds_without_queries(
    watched: tuple[Engine, Engine, RevocationWatch], pg_url: str
) -> None:
    engine, autocommit, watch = watched
    statements: list[str] = []
    event.listen(autocommit, "before_cursor_execute", lambda _c, _cur, statement, *_: statements.append(statement))
    assert not watch.is_revoked("later")
    _revoke_elsewhere(pg_url, "later")
    assert _until(lambda: watch.is_revoked("later")) < 0.5
    assert statements == []  # answered from the notified set
    assert _listeners(engine) == 1


def test_revocations_made_before_the_start_are_loaded(pg_url: str) -> None:
    _revoke_elsewhere(pg_url, "earlier")
    engine = make_engine(pg_url)
    try:
        watch = RevocationWatch(make_autocommit_engine(engine))
        assert watch.is_revoked("earlier")  # not started: a query
        watch.start()
        _until(lambda: watch.live)
        assert watch.is_revoked("earlier") and not watch.is_revoked("other")
    finally:
        engine.dispose()


def test_a_lost_connection_falls_back_to_queries_then_listens_again(
    watched: tuple[Engine, Engine, RevocationWatch], pg_url: str
) -> None:
    engine, _, watch = watched
    with engine.connect() as connection:
        connection.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :name"),
            {"name": APPLICATION_NAME},
        )
    _until(lambda: not watch.live)
    # While deaf, a revocation is still seen: the check queries the table.
    _revoke_elsewhere(pg_url, "while-deaf")
    assert watch.is_revoked("while-deaf")
    _until(lambda: watch.live, seconds=10)
    assert watch.is_revoked("while-deaf")  # loaded again on reconnecting


def test_disposing_of_the_engine_stops_the_listener(pg_url: str) -> None:
    engine = make_engine(pg_url)
    watch = RevocationWatch(make_autocommit_engine(engine))
    watch.start()
    _until(lambda: watch.live)
    probe = make_engine(pg_url)
    try:
        assert _listeners(probe) == 1
        engine.dispose()
        _until(lambda: _listeners(probe) == 0, seconds=2)
        assert not watch.live
    finally:
        probe.dispose()


def test_a_token_revoked_in_another_server_process_is_refused_here(
    smart_app: Flask, smart_client: FlaskClient, mint: Callable[..., dict[str, str]], pg_url: str
) -> None:
    watch = smart_app.extensions["fhir_server"].auth.tokens.revocations
    _until(lambda: watch.live)  # the app started its listener (revocation_listen is on by default)
    headers = mint("system/*.rs")
    assert smart_client.get("/fhir/Patient", headers=headers).status_code == 200
    jti = orjson.loads(extract_compact(headers["Authorization"].split()[1].encode()).payload)["jti"]
    _revoke_elsewhere(pg_url, jti)
    _until(lambda: watch.is_revoked(jti), seconds=0.5)
    refused = smart_client.get("/fhir/Patient", headers=headers)
    assert refused.status_code == 401 and "revoked" in refused.headers["WWW-Authenticate"]
