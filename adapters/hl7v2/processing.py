"""Map one claimed inbox row to FHIR and write it, all or nothing.

The resources and the row's ``done`` status are written in ONE unit of work,
guarded by the claim token: either the message is applied and marked done, or
nothing is. A claim lost to another worker (the lease ran out) rolls back, so
a message is never applied twice by two workers at once.

Outcomes: ``done`` (ACK AA); ``error``, the message parses but cannot be
mapped (AE with ERR naming segment and field); ``rejected``, it cannot be
parsed or its type is unsupported (AR). Infrastructure failures (the database)
raise and leave the row pending for a later attempt.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import orjson
from sqlalchemy import select, update

from adapters.hl7v2.ack import AckError, ErrorCode, ErrorLocation
from adapters.hl7v2.errors import CharacterSetError, HeaderError
from adapters.hl7v2.handler import acknowledge
from adapters.hl7v2.header import decode_message, parse_header
from adapters.hl7v2.inbox import DONE, ERROR, PENDING, REJECTED
from adapters.hl7v2.mapping import MappedResource, MappingError, UnsupportedMessage, to_fhir
from adapters.hl7v2.parse import ParseError
from fhir_server.db import unit_of_work
from fhir_server.errors import Gone, InvalidResource, NotFound
from fhir_server.repository import RequestContext, SqlRepository
from models import Hl7v2Message

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

__all__ = ["Outcome", "process"]

_CONTEXT = RequestContext(actor="hl7v2")


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


def _map(content: bytes) -> list[MappedResource]:
    """Decode, parse and map, turning every content problem into a :class:`_Failure`."""
    try:
        return to_fhir(decode_message(content))
    except CharacterSetError as exc:
        raise _Failure(REJECTED, AckError(ErrorCode.TABLE_VALUE_NOT_FOUND, str(exc), ErrorLocation("MSH", 1, 18)), "MSH[1]-18") from exc
    except (HeaderError, ParseError) as exc:
        raise _Failure(REJECTED, AckError(ErrorCode.SEGMENT_SEQUENCE_ERROR, str(exc)), None) from exc
    except UnsupportedMessage as exc:
        raise _Failure(REJECTED, exc.ack_error(), exc.where) from exc
    except MappingError as exc:
        raise _Failure(ERROR, exc.ack_error(), exc.where) from exc


def _unchanged(repo: SqlRepository, item: MappedResource) -> bool | None:
    """Whether the stored resource equals ``item`` (``None``: not stored, or deleted)."""
    resource = item.resource
    try:
        stored = orjson.loads(repo.read(resource["resourceType"], resource["id"]).content or b"{}")
    except (NotFound, Gone):
        return None
    stored.pop("meta", None)
    return bool(stored == resource)


def _write(session: Session, mapped: list[MappedResource]) -> tuple[str, ...]:
    """Write every resource through the repository; skip those already identical."""
    repo = SqlRepository(session, _CONTEXT)
    for item in mapped:
        unchanged = _unchanged(repo, item)
        # A re-processed message must not pile up identical versions.
        if unchanged or (unchanged is not None and not item.replace):
            continue
        resource = item.resource
        try:
            repo.update(resource["resourceType"], resource["id"], resource)
        except InvalidResource as exc:
            issue = exc.issues[0]
            text = f"The mapped `{item.reference}` is invalid: {issue.diagnostics} (at `{issue.expression}`)."
            raise _Failure(ERROR, AckError(ErrorCode.APPLICATION_INTERNAL_ERROR, text), None) from exc
    return tuple(item.reference for item in mapped)


def _finish(session: Session, pk: int, token: str, outcome: Outcome, where: str | None, keep_ack: bool) -> bool:
    """Record the outcome if the claim is still ours; return whether it was."""
    values: dict[str, object] = {
        "status": outcome.status,
        "processed_at": datetime.now(timezone.utc),
        "claimed_by": None,
        "claimed_until": None,
        "attempts": Hl7v2Message.attempts + 1,
        "error": outcome.error,
        "error_location": where,
        "resources": "\n".join(outcome.resources) or None,
    }
    if not keep_ack:
        values["ack"] = outcome.ack
    result = session.execute(
        update(Hl7v2Message)
        .where(Hl7v2Message.pk == pk, Hl7v2Message.claimed_by == token, Hl7v2Message.status == PENDING)
        .values(**values)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def process(factory: sessionmaker[Session], pk: int, token: str) -> Outcome | None:
    """Map and apply inbox row ``pk`` under claim ``token``.

    :returns: the outcome, or ``None`` when the claim was lost to another worker.
    :raises sqlalchemy.exc.SQLAlchemyError: the database failed; the row stays pending.
    """
    with unit_of_work(factory, write=False) as session:
        row = session.execute(
            select(Hl7v2Message.content, Hl7v2Message.ack).where(Hl7v2Message.pk == pk)
        ).one()
    content, stored_ack = row.content, row.ack
    header = parse_header(content)
    try:
        mapped = _map(content)
        with unit_of_work(factory) as session:
            resources = _write(session, mapped)
            outcome = Outcome(DONE, acknowledge(header), None, resources)
            if not _finish(session, pk, token, outcome, None, stored_ack is not None):
                session.rollback()
                return None
        return outcome
    except _Failure as failure:
        reject = failure.status == REJECTED
        ack = acknowledge(header, [failure.error], reject=reject)
        outcome = Outcome(failure.status, ack, failure.error.message)
        with unit_of_work(factory) as session:
            if not _finish(session, pk, token, outcome, failure.where, stored_ack is not None):
                return None
        return outcome
