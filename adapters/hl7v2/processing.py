"""Map one claimed inbox row to FHIR and write it, all or nothing.

The resources and the row's ``done`` status are written in ONE unit of work,
guarded by the claim token: either the message is applied and marked done, or
nothing is. A claim lost to another worker (the lease ran out) rolls back, so
a message is never applied twice by two workers at once.

Outcomes: ``done`` (ACK AA, with an ERR of severity W for each part of the
message that was skipped or each change whose target the server does not
hold); ``error``, the message parses but cannot be
mapped (AE with ERR naming segment and field); ``rejected``, it cannot be
parsed or its type is unsupported (AR). Infrastructure failures (the database)
raise and leave the row pending for a later attempt.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from adapters.hl7v2.ack import AckError, ErrorCode, ErrorLocation
from adapters.hl7v2.audit import audit_message
from adapters.hl7v2.errors import CharacterSetError, HeaderError
from adapters.hl7v2.handler import acknowledge
from adapters.hl7v2.header import MessageHeader, decode_message, parse_header
from adapters.hl7v2.inbox import DONE, ERROR, PENDING, REJECTED
from adapters.hl7v2.mapping import MappedMessage, MappedResource, MappingError, UnsupportedMessage, map_message
from adapters.hl7v2.parse import ParseError
from adapters.hl7v2.store import RepositoryStore
from fhir_server.db import unit_of_work
from fhir_server.errors import InvalidResource
from fhir_server.repository import RequestContext, SqlRepository
from fhir_server.repository._batch_write import BatchWriteFailed, PendingWrite
from models import Hl7v2Message

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

__all__ = ["Outcome", "WriteFailed", "apply", "apply_many", "process"]

_CONTEXT = RequestContext(actor="hl7v2")
_INBOX = Hl7v2Message.__table__


@dataclass(frozen=True, slots=True)
class Outcome:
    """What processing did with a row, and the ACK it calls for."""

    status: str
    ack: bytes
    error: str | None = None
    resources: tuple[str, ...] = ()


class _Failure(Exception):
    def __init__(self, status: str, error: AckError, where: str | None) -> None:
        super().__init__(error.message)
        self.status, self.error, self.where = status, error, where
        #: For a refused write: the position of the refused resource in the written batch.
        self.position: int | None = None


def _map(content: bytes) -> MappedMessage:
    """Decode, parse and map, turning every content problem into a :class:`_Failure`."""
    try:
        return map_message(decode_message(content))
    except CharacterSetError as exc:
        raise _Failure(
            REJECTED, AckError(ErrorCode.TABLE_VALUE_NOT_FOUND, str(exc), ErrorLocation("MSH", 1, 18)), "MSH[1]-18"
        ) from exc
    except (HeaderError, ParseError) as exc:
        raise _Failure(REJECTED, AckError(ErrorCode.SEGMENT_SEQUENCE_ERROR, str(exc)), None) from exc
    except UnsupportedMessage as exc:
        raise _Failure(REJECTED, exc.ack_error(), exc.where) from exc
    except MappingError as exc:
        raise _Failure(ERROR, exc.ack_error(), exc.where) from exc


def _write(session: Session, mapped: list[MappedResource]) -> tuple[str, ...]:
    """Write every resource through the repository in one batch; skip those already identical.

    :raises _Failure: naming the first resource the repository refused as invalid.
    """
    writes = [
        # A resource only referenced (e.g. the Patient of a lab result) must not overwrite what its
        # own message (ADT) stored; skip_unchanged keeps a re-processed message from piling up
        # identical versions (compared under the row lock).
        PendingWrite(item.resource, if_absent=not item.replace, skip_unchanged=True)
        for item in mapped
    ]
    try:
        SqlRepository(session, _CONTEXT).write_many(writes)
    except BatchWriteFailed as exc:
        raise _refused(exc, mapped[exc.position].reference) from exc
    return tuple(item.reference for item in mapped)


def _refused(exc: BatchWriteFailed, reference: str) -> _Failure:
    """The failure for a write the repository refused as invalid; other refusals are raised as they are."""
    if not isinstance(exc.error, InvalidResource):
        raise exc.error from exc
    issue = exc.error.issues[0]
    text = f"The mapped `{reference}` is invalid: {issue.diagnostics} (at `{issue.expression}`)."
    failure = _Failure(ERROR, AckError(ErrorCode.APPLICATION_INTERNAL_ERROR, text), None)
    failure.position = exc.position
    return failure


def _apply_changes(session: Session, mapped: MappedMessage) -> tuple[tuple[str, ...], list[AckError]]:
    """Apply a message's changes to stored records, then write its resources; return references and warnings.

    :raises _Failure: a resource was refused as invalid.
    """
    store = RepositoryStore(SqlRepository(session, _CONTEXT))
    warnings = list(mapped.warnings)
    for change in mapped.changes:
        try:
            warnings += change.apply(store)
        except BatchWriteFailed as exc:
            raise _refused(exc, "resource of a stored-record change") from exc
    written = _write(session, mapped.resources)
    return (*store.written, *written), warnings


def _finish(session: Session, pk: int, token: str, outcome: Outcome, where: str | None, keep_ack: bool) -> bool:
    """Record the outcome if the claim is still ours; return whether it was."""
    values: dict[str, object] = {
        "status": outcome.status,
        "processed_at": datetime.now(UTC),
        "claimed_by": None,
        "claimed_until": None,
        "attempts": _INBOX.c.attempts + 1,
        "error": outcome.error,
        "error_location": where,
        "resources": "\n".join(outcome.resources) or None,
    }
    if not keep_ack:
        values["ack"] = outcome.ack
    # A Core statement on the connection: the ORM's bulk-update bookkeeping is pure overhead here.
    result = session.connection().execute(
        update(_INBOX)
        .where(_INBOX.c.pk == pk, _INBOX.c.claimed_by == token, _INBOX.c.status == PENDING)
        .values(**values)
    )
    return bool(result.rowcount)


class WriteFailed(Exception):
    """A mapped resource was refused after others were written: roll back, then record ``outcome``."""

    def __init__(self, outcome: Outcome, where: str | None) -> None:
        super().__init__(outcome.error)
        self.outcome, self.where = outcome, where


def _failed(header: MessageHeader, failure: _Failure) -> Outcome:
    ack = acknowledge(header, [failure.error], reject=failure.status == REJECTED)
    return Outcome(failure.status, ack, failure.error.message)


def apply(session: Session, header: MessageHeader, content: bytes) -> tuple[Outcome, str | None]:
    """Map a message and write its resources in ``session`` (which the caller commits).

    :returns: the outcome and, for a failure, where in the message it lies; a
        message that cannot be mapped writes nothing.
    :raises WriteFailed: a resource was refused after others were written.
    """
    return apply_many(session, [(header, content)])[0]


def apply_many(session: Session, messages: list[tuple[MessageHeader, bytes]]) -> list[tuple[Outcome, str | None]]:
    """:func:`apply` for several messages, their resources written in one batch.

    :raises WriteFailed: for the first message with a refused resource; the caller
        must roll back (resources of other messages may have been written).
    """
    results: list[tuple[Outcome, str | None]] = []
    mapped: list[MappedResource] = []
    owners: list[int] = []  # for each mapped resource, the message it comes from

    def flush() -> None:
        try:
            _write(session, mapped)
        except _Failure as failure:
            header = messages[owners[failure.position or 0]][0]
            raise WriteFailed(_failed(header, failure), failure.where) from failure
        mapped.clear()
        owners.clear()

    for number, (header, content) in enumerate(messages):
        try:
            message = _map(content)
        except _Failure as failure:
            results.append((_failed(header, failure), failure.where))
            continue
        if message.changes:
            # Changes read stored records: what the batch mapped before must be written first.
            flush()
            try:
                refs, warnings = _apply_changes(session, message)
            except _Failure as failure:
                raise WriteFailed(_failed(header, failure), failure.where) from failure
            results.append((Outcome(DONE, acknowledge(header, warnings=warnings), None, refs), None))
            continue
        mapped += message.resources
        owners += [number] * len(message.resources)
        refs = tuple(item.reference for item in message.resources)
        results.append((Outcome(DONE, acknowledge(header, warnings=message.warnings), None, refs), None))
    flush()
    return results


def process(
    factory: sessionmaker[Session],
    pk: int,
    token: str,
    *,
    content: bytes | None = None,
    stored_ack: bytes | None = None,
    peer: str | None = None,
) -> Outcome | None:
    """Map and apply inbox row ``pk`` under claim ``token``.

    :param content: the row's message, when the caller has it (saves reading it back);
        ``stored_ack`` is then the row's stored ACK and ``peer`` the sender's address.
    :returns: the outcome, or ``None`` when the claim was lost to another worker.
    :raises sqlalchemy.exc.SQLAlchemyError: the database failed; the row stays pending.
    """
    if content is None:
        with unit_of_work(factory, write=False) as session:
            row = session.execute(select(_INBOX.c.content, _INBOX.c.ack, _INBOX.c.peer).where(_INBOX.c.pk == pk)).one()
        content, stored_ack, peer = row.content, row.ack, row.peer
    header = parse_header(content)
    try:
        mapped = _map(content)
        with unit_of_work(factory) as session:
            resources, warnings = _apply_changes(session, mapped)
            outcome = Outcome(DONE, acknowledge(header, warnings=warnings), None, resources)
            if not _finish(session, pk, token, outcome, None, stored_ack is not None):
                session.rollback()
                return None
            _audit(session, header, peer, outcome)
        return outcome
    except _Failure as failure:
        outcome = _failed(header, failure)
        with unit_of_work(factory) as session:
            if not _finish(session, pk, token, outcome, failure.where, stored_ack is not None):
                return None
            _audit(session, header, peer, outcome)
        return outcome


def _audit(session: Session, header: MessageHeader, peer: str | None, outcome: Outcome) -> None:
    audit_message(session, header, peer=peer, status=outcome.status, resources=outcome.resources, error=outcome.error)
