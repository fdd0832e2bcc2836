"""The inbox table's operations: receive, claim, finish, list and retry messages.

Every function opens its own unit of work and commits before returning, so a
caller that sends an ACK after :func:`receive` returns knows the raw message is
durable. Claims are leases: a row claimed by a process that died becomes
claimable again once ``claimed_until`` passes, which is how a crash between
receipt and mapping is resumed.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from fhir_server.db import unit_of_work
from models import Hl7v2Message

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from adapters.hl7v2.header import MessageHeader

__all__ = [
    "CONFLICT",
    "DONE",
    "ERROR",
    "FAILED",
    "PENDING",
    "REJECTED",
    "Receipt",
    "claim",
    "conflict_row",
    "failed",
    "lookup",
    "message_key",
    "new_row",
    "new_token",
    "receive",
    "release",
    "reset_for_retry",
]

PENDING, DONE, ERROR, REJECTED, CONFLICT = "pending", "done", "error", "rejected", "conflict"
#: Statuses listed by ``fhir-server hl7 errors``.
FAILED = (ERROR, REJECTED, CONFLICT)


def _now() -> datetime:
    return datetime.now(UTC)


def new_token(owner: str) -> str:
    """A claim token naming its owner, unique per claim."""
    return f"{owner[:40]}:{uuid.uuid4().hex[:16]}"


@dataclass(frozen=True, slots=True)
class Receipt:
    """The inbox row a received message landed in."""

    pk: int
    status: str
    #: The ACK stored for the row, if one was decided at receipt or earlier.
    ack: bytes | None
    #: The same sender, MSH-10 and bytes were received before (``pk`` is that row).
    duplicate: bool = False


def message_key(header: MessageHeader) -> tuple[str, str, str]:
    """What identifies a message: sending application, sending facility and MSH-10."""
    return header.sending_application[:255], header.sending_facility[:255], header.control_id[:255]


def _find(session: Session, header: MessageHeader) -> list[Hl7v2Message]:
    app, facility, control_id = message_key(header)
    query = (
        select(Hl7v2Message)
        .where(
            Hl7v2Message.sending_application == app,
            Hl7v2Message.sending_facility == facility,
            Hl7v2Message.control_id == control_id,
        )
        .order_by(Hl7v2Message.pk)
    )
    return list(session.scalars(query))


def lookup(session: Session, header: MessageHeader, digest: str) -> tuple[list[Hl7v2Message], Hl7v2Message | None]:
    """Rows with the message's sender and MSH-10, and among them the one with the same bytes."""
    earlier = _find(session, header)
    return earlier, next((row for row in earlier if row.content_sha256 == digest), None)


def new_row(
    header: MessageHeader, content: bytes, digest: str, peer: str, *, status: str, ack: bytes | None, **values: object
) -> Hl7v2Message:
    """An inbox row for a received message; ``values`` sets further columns."""
    app, facility, control_id = message_key(header)
    return Hl7v2Message(
        received_at=_now(), peer=peer[:255], sending_application=app, sending_facility=facility,
        control_id=control_id, message_type=header.message_type[:16], trigger_event=header.trigger_event[:16],
        content=content, content_sha256=digest, status=status, ack=ack, **{"attempts": 0, **values},
    )  # fmt: skip


def conflict_row(
    header: MessageHeader, content: bytes, digest: str, peer: str, original: int, conflict_ack: Callable[[int], bytes]
) -> Hl7v2Message:
    """The row keeping a message that reuses the MSH-10 of row ``original`` with other content."""
    app, facility, _ = message_key(header)
    error = (
        f"Message control id `{header.control_id}` from `{app}` at `{facility}` was already "
        f"received with different content (inbox #{original}); kept for review, not applied."
    )
    return new_row(
        header,
        content,
        digest,
        peer,
        status=CONFLICT,
        ack=conflict_ack(original),
        error=error,
        error_location="MSH[1]-10",
    )


def receive(
    factory: sessionmaker[Session],
    header: MessageHeader,
    content: bytes,
    peer: str,
    *,
    claim_token: str | None,
    lease: float,
    accept_ack: bytes | None,
    conflict_ack: Callable[[int], bytes],
    rejected: tuple[str, str] | None = None,
) -> Receipt:
    """Store a received message and commit, or find the identical message stored before.

    :param claim_token: claim the new row for in-process mapping (``None``: leave it to workers).
    :param lease: seconds the claim holds.
    :param accept_ack: the ACK already decided (CA, deferred AA), stored with the row.
    :param conflict_ack: builds the error ACK for a reused MSH-10, given the original row's pk.
    :param rejected: ``(error, location)`` of a message refused at receipt (a commit reject):
        kept as ``rejected`` for review, never mapped; ``accept_ack`` is its ACK.
    :raises sqlalchemy.exc.SQLAlchemyError: the row could not be committed; no positive ACK may be sent.
    """
    digest = hashlib.sha256(content).hexdigest()
    try:
        with unit_of_work(factory) as session:
            earlier, same = lookup(session, header, digest)
            if same is not None:
                return Receipt(same.pk, same.status, same.ack, duplicate=True)
            if earlier:
                row = conflict_row(header, content, digest, peer, earlier[0].pk, conflict_ack)
            elif rejected:
                row = new_row(
                    header,
                    content,
                    digest,
                    peer,
                    status=REJECTED,
                    ack=accept_ack,
                    error=rejected[0],
                    error_location=rejected[1],
                )
            else:
                until = _now() + timedelta(seconds=lease) if claim_token else None
                row = new_row(
                    header,
                    content,
                    digest,
                    peer,
                    status=PENDING,
                    ack=accept_ack,
                    claimed_by=claim_token,
                    claimed_until=until,
                )
            session.add(row)
            session.flush()
            if row.status != PENDING:  # refused at receipt; a pending row is audited when it is applied
                # Imported here: the audit module reads this module's statuses.
                from adapters.hl7v2.audit import audit_rows

                audit_rows(session, [(header, row)])
            return Receipt(row.pk, row.status, row.ack)
    except IntegrityError:
        # An identical resend committed between our look-up and insert.
        with unit_of_work(factory, write=False) as session:
            same = next(r for r in _find(session, header) if r.content_sha256 == digest)
            return Receipt(same.pk, same.status, same.ack, duplicate=True)


def claim(
    factory: sessionmaker[Session], owner: str, *, lease: float, limit: int, pk: int | None = None
) -> list[tuple[int, str]]:
    """Claim up to ``limit`` pending rows whose claim is free or expired; return ``(pk, token)`` pairs.

    On PostgreSQL concurrent workers skip each other's locked rows (``FOR UPDATE
    SKIP LOCKED``); SQLite has one writer at a time, so the claim update
    inside its ``BEGIN IMMEDIATE`` transaction is exclusive already.
    """
    token = new_token(owner)
    with unit_of_work(factory) as session:
        now = _now()
        query = (
            select(Hl7v2Message.pk)
            .where(
                Hl7v2Message.status == PENDING,
                or_(Hl7v2Message.claimed_until.is_(None), Hl7v2Message.claimed_until < now),
            )
            .order_by(Hl7v2Message.pk)
            .limit(limit)
        )
        if pk is not None:
            query = query.where(Hl7v2Message.pk == pk)
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        pks = list(session.scalars(query))
        if pks:
            session.execute(
                update(Hl7v2Message)
                .where(Hl7v2Message.pk.in_(pks))
                .values(claimed_by=token, claimed_until=now + timedelta(seconds=lease))
            )
    return [(pk, token) for pk in pks]


def release(factory: sessionmaker[Session], pk: int, token: str) -> None:
    """Give up a claim early, so a resend or a worker need not wait for the lease to end."""
    with unit_of_work(factory) as session:
        session.execute(
            update(Hl7v2Message)
            .where(Hl7v2Message.pk == pk, Hl7v2Message.claimed_by == token)
            .values(claimed_by=None, claimed_until=None)
        )


def failed(factory: sessionmaker[Session], limit: int = 100) -> list[Hl7v2Message]:
    """Rows that were not applied (error, rejected, conflict), oldest first."""
    with unit_of_work(factory, write=False) as session:
        query = select(Hl7v2Message).where(Hl7v2Message.status.in_(FAILED)).order_by(Hl7v2Message.pk).limit(limit)
        return list(session.scalars(query))


def reset_for_retry(factory: sessionmaker[Session], pks: list[int] | None) -> list[int]:
    """Put failed rows back to pending; ``None`` means every error and rejected row.

    A conflict row is only retried by its id: applying it is a reviewer's decision.
    The stored error ACK is dropped so an identical resend gets the new outcome.
    """
    with unit_of_work(factory) as session:
        query = select(Hl7v2Message.pk)
        if pks is None:
            query = query.where(Hl7v2Message.status.in_((ERROR, REJECTED)))
        else:
            query = query.where(Hl7v2Message.pk.in_(pks), Hl7v2Message.status.in_(FAILED))
        found = list(session.scalars(query.order_by(Hl7v2Message.pk)))
        if found:
            session.execute(
                update(Hl7v2Message)
                .where(Hl7v2Message.pk.in_(found))
                .values(status=PENDING, claimed_by=None, claimed_until=None, ack=None)
            )
    return found
