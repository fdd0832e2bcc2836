"""After-commit write notes: delivered once on commit, dropped on rollback, free without listeners."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from fhir_server.db import make_session_factory, unit_of_work
from fhir_server.repository import hooks


@pytest.fixture
def received() -> Iterator[list[list[hooks.WriteNote]]]:
    calls: list[list[hooks.WriteNote]] = []

    def listener(notes: Sequence[hooks.WriteNote]) -> None:
        calls.append(list(notes))

    hooks.add_listener(listener)
    yield calls
    hooks.remove_listener(listener)


def test_notes_arrive_after_commit_only(engine: Engine, received: list[list[hooks.WriteNote]]) -> None:
    sessions = make_session_factory(engine)
    with unit_of_work(sessions) as session:
        hooks.record_write(session, "Patient", "a", 1, {"resourceType": "Patient", "id": "a"})
        hooks.record_write(session, "Patient", "b", 2, None)
        assert received == []
    assert [[(n.resource_type, n.resource_id, n.version_id) for n in call] for call in received] == [
        [("Patient", "a", 1), ("Patient", "b", 2)]
    ]
    with pytest.raises(RuntimeError), unit_of_work(sessions) as session:
        hooks.record_write(session, "Patient", "c", 1, None)
        raise RuntimeError("spoil the transaction")
    with unit_of_work(sessions) as session:
        pass  # a later commit on a fresh session does not resurrect the rolled-back note
    assert len(received) == 1


def test_a_failing_listener_does_not_fail_the_commit(engine: Engine, received: list[list[hooks.WriteNote]]) -> None:
    def broken(_notes: Sequence[hooks.WriteNote]) -> None:
        raise ValueError("listener bug")

    hooks.add_listener(broken)
    try:
        with unit_of_work(make_session_factory(engine)) as session:
            hooks.record_write(session, "Patient", "a", 1, None)
    finally:
        hooks.remove_listener(broken)
    assert len(received) == 1


def test_without_listeners_nothing_is_kept(engine: Engine) -> None:
    assert hooks.listener_count() == 0
    with unit_of_work(make_session_factory(engine)) as session:
        hooks.record_write(session, "Patient", "a", 1, None)
        assert not session.info


def test_type_watchers_get_the_session_and_only_their_type(engine: Engine) -> None:
    calls: list[tuple[Session, list[str]]] = []

    def watcher(session: Session, notes: Sequence[hooks.WriteNote]) -> None:
        calls.append((session, [note.resource_id for note in notes]))

    hooks.watch_type("Basic", watcher)
    try:
        with unit_of_work(make_session_factory(engine)) as session:
            hooks.record_write(session, "Patient", "p", 1, None)  # not watched: not even kept
            hooks.record_write(session, "Basic", "b", 1, None)
            assert len(session.info[next(iter(session.info))]) == 1
        with unit_of_work(make_session_factory(engine)) as other:
            hooks.record_write(other, "Patient", "p", 2, None)
    finally:
        hooks.unwatch_type("Basic", watcher)
    assert calls == [(session, ["b"])]
    assert hooks.listener_count() == 0
