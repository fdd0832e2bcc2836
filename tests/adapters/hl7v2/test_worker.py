"""The mapping worker: deferred mapping, claims, and resuming after a crash (SQLite and PostgreSQL)."""

from __future__ import annotations

import time

from sqlalchemy.orm import Session, sessionmaker

from adapters.hl7v2 import inbox
from adapters.hl7v2.worker import Worker

from .e2e import msa, rows, running
from .test_listener import ADT, ORU


def test_deferred_mapping_acks_after_commit_and_worker_maps(factory: sessionmaker[Session]) -> None:
    with running(factory, defer_mapping=True, run_worker=False) as client:
        assert msa(client.call(ORU.encode()))[1] == "AA"
    assert [r.status for r in rows(factory)] == ["pending"]
    assert Worker(factory).run_once() == 1
    assert [r.status for r in rows(factory)] == ["done"]


def test_a_claimed_but_unfinished_message_is_resumed_after_its_claim_expires(factory: sessionmaker[Session]) -> None:
    with running(factory, defer_mapping=True, run_worker=False) as client:
        client.call(ADT.encode())
    # A worker claims the row and "crashes" before mapping it.
    [(pk, _token)] = inbox.claim(factory, "crashed-worker", lease=0.3, limit=10)
    survivor = Worker(factory, name="survivor")
    assert survivor.run_once() == 0  # the claim still holds
    time.sleep(0.4)
    assert survivor.run_once() == 1
    [row] = rows(factory)
    assert (row.pk, row.status, row.claimed_by) == (pk, "done", None)


def test_a_worker_whose_claim_was_taken_over_does_not_apply_the_message(factory: sessionmaker[Session]) -> None:
    from adapters.hl7v2.processing import process

    with running(factory, defer_mapping=True, run_worker=False) as client:
        client.call(ADT.encode())
    [(pk, stale)] = inbox.claim(factory, "slow", lease=0.0, limit=1)
    [(_, fresh)] = inbox.claim(factory, "fast", lease=60.0, limit=1)
    assert process(factory, pk, stale) is None
    outcome = process(factory, pk, fresh)
    assert outcome is not None and outcome.status == "done"


def test_two_workers_split_the_pending_rows(factory: sessionmaker[Session]) -> None:
    with running(factory, defer_mapping=True, run_worker=False) as client:
        for n in range(4):
            client.call(ORU.replace("LAB0001", f"LAB000{n}").encode())
    first = inbox.claim(factory, "a", lease=60.0, limit=2)
    second = inbox.claim(factory, "b", lease=60.0, limit=10)
    assert len(first) == 2 and len(second) == 2
    assert not {pk for pk, _ in first} & {pk for pk, _ in second}
