"""Group commit: messages received together on several connections share one transaction.

Original mode maps in-process and answers only after the mapping, so the raw
message, its resources and the inbox row (already ``done``, with its ACK) go
in ONE transaction: a crash before the commit leaves nothing and no ACK was
sent, so the sender resends. Messages waiting at the same time are applied in
the same transaction, and each waiter gets its ACK only after that commit, so
no positive ACK ever precedes the commit of its message.

There is no separate batching thread: the first waiter to find a batch slot
free becomes the leader, takes what is queued (its own message included) and
applies it, which saves a thread hop per message. ``leaders`` batches run at
once, so the database works on one while Python maps the next.

If any message of a batch fails in a way that needs a rollback (a resource
refused after others were written, a unique-key race with a concurrent
identical resend, a deadlock, a database error), the batch is rolled back and
each message is applied on its own, so one bad message never costs another
its ACK.
"""

from __future__ import annotations

import hashlib
import threading
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from adapters.hl7v2 import inbox
from adapters.hl7v2.audit import audit_rows
from adapters.hl7v2.processing import WriteFailed, apply_many
from fhir_server.db import unit_of_work
from models import Hl7v2Message

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.orm import Session, sessionmaker

    from adapters.hl7v2.header import MessageHeader
    from adapters.hl7v2.processing import Outcome

__all__ = ["Applied", "GroupCommitter"]


@dataclass(frozen=True, slots=True)
class Applied:
    """What became of a submitted message once its transaction committed."""

    #: The inbox row holding the message.
    pk: int
    #: The ACK to send; ``None`` for an identical message stored earlier and not finished yet.
    ack: bytes | None


@dataclass(slots=True)
class _Item:
    header: MessageHeader
    content: bytes
    peer: str
    conflict_ack: Callable[[int], bytes]
    digest: str = ""
    result: Future[Applied] = field(default_factory=Future)


class GroupCommitter:
    """Applies original-mode messages in shared transactions.

    :param factory: the session factory of the server's database.
    :param max_batch: the most messages in one transaction.
    :param leaders: batches applied at the same time.
    """

    def __init__(self, factory: sessionmaker[Session], *, max_batch: int = 32, leaders: int = 2) -> None:
        self._factory, self._max_batch = factory, max_batch
        self._queue: deque[_Item] = deque()
        self._lock = threading.Lock()
        self._slots = threading.Semaphore(leaders)

    def submit(self, header: MessageHeader, content: bytes, peer: str, conflict_ack: Callable[[int], bytes]) -> Applied:
        """Store, map and commit one message (with whatever else is waiting); block until committed.

        :raises Exception: the database failed; nothing of the message was committed.
        """
        item = _Item(header, content, peer, conflict_ack, hashlib.sha256(content).hexdigest())
        with self._lock:
            self._queue.append(item)
        while not item.result.done():
            with self._slots:
                if item.result.done():  # a leader took it while we waited for the slot
                    break
                with self._lock:
                    batch = [self._queue.popleft() for _ in range(min(self._max_batch, len(self._queue)))]
                if not batch:
                    break  # another leader holds our message: wait for it below instead of spinning
                self._run(batch)
        return item.result.result()

    def _run(self, batch: list[_Item]) -> None:
        """Apply ``batch`` in one transaction, or one by one if that fails; settle every future."""
        try:
            applied = self._apply(batch)
        except Exception as exc:  # noqa: BLE001 - not swallowed: retried alone, then raised in its caller's thread
            if len(batch) == 1:
                batch[0].result.set_exception(exc)
                return
            for item in batch:
                self._run([item])
            return
        for item, result in zip(batch, applied, strict=True):
            item.result.set_result(result)

    def _apply(self, batch: list[_Item]) -> list[Applied]:
        """One transaction for the whole batch; raises (rolled back) if any message needs a rollback."""
        try:
            with unit_of_work(self._factory) as session:
                rows = _rows_for(session, batch)
        except WriteFailed as failed:
            if len(batch) > 1:
                raise
            # Alone, the refused message is recorded without any of its resources.
            item = batch[0]
            with unit_of_work(self._factory) as session:
                row = _record(item, failed.outcome, failed.where)
                session.add(row)
                session.flush()
                audit_rows(session, [(item.header, row)])
            return [Applied(row.pk, row.ack)]
        return [row if isinstance(row, Applied) else Applied(row.pk, row.ack) for row in rows]


def _rows_for(session: Session, batch: list[_Item]) -> list[Hl7v2Message | Applied]:
    """The inbox rows of ``batch`` after writing all their resources in one batch.

    Each item gets a new row (applied, or a conflict kept for review) or, for an
    identical message stored earlier, that row. Two items with the same sender and
    MSH-10 are taken one after the other, so the second sees the first.
    """
    keys = [inbox.message_key(item.header) for item in batch]
    if len(set(keys)) < len(keys):
        return [row for item in batch for row in _rows_for(session, [item])]
    found: list[Hl7v2Message | Applied | None] = []
    fresh: list[_Item] = []
    for item in batch:
        earlier, same = inbox.lookup(session, item.header, item.digest)
        if same is not None:
            found.append(Applied(same.pk, same.ack))
        elif earlier:
            found.append(
                inbox.conflict_row(item.header, item.content, item.digest, item.peer, earlier[0].pk, item.conflict_ack)
            )
        else:
            found.append(None)
            fresh.append(item)
    applied = iter(apply_many(session, [(item.header, item.content) for item in fresh]))
    outcomes = iter(fresh)
    rows = [row if row is not None else _record(next(outcomes), *next(applied)) for row in found]
    session.add_all([row for row in rows if isinstance(row, Hl7v2Message)])
    session.flush()
    # An identical resend (Applied) wrote nothing new, and is not recorded again.
    audit_rows(session, [(i.header, row) for i, row in zip(batch, rows, strict=True) if isinstance(row, Hl7v2Message)])
    return rows


def _record(item: _Item, outcome: Outcome, where: str | None) -> Hl7v2Message:
    """The inbox row of a message applied (or refused) in this transaction."""
    return inbox.new_row(
        item.header, item.content, item.digest, item.peer, status=outcome.status, ack=outcome.ack,
        attempts=1, processed_at=datetime.now(UTC), error=outcome.error, error_location=where,
        resources="\n".join(outcome.resources) or None,
    )  # fmt: skip
