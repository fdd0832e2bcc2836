"""The instance store: a received instance's bytes on disk and its row in ``dicom_instance``.

:meth:`InstanceStore.receive` is what the C-STORE handler and the importer call.
When it returns, the file is fsynced in the content-addressed :class:`FileStore`
and its row is committed, so acknowledging the sender can never lose an instance;
publishing to FHIR happens later, from the row (see :mod:`adapters.dicom.publisher`).

The row is written here rather than through the FHIR repository because it is not
a FHIR resource: it is the adapter's inbox, the durable copy the architecture asks
adapters to keep before they acknowledge.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from adapters.dicom._codec import header_to_json
from adapters.dicom.audit import Origin, instance_event
from adapters.dicom.errors import DicomProblem, InvalidDicomError
from adapters.dicom.headers import read_instance_header
from fhir_server.audit.activity import FAILED, INVALID, record_alone
from fhir_server.audit.outbox import enqueue
from fhir_server.db import unit_of_work
from models import DicomInstance

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from adapters.dicom.filestore import FileStore
    from adapters.dicom.headers import InstanceHeader

__all__ = ["InstanceFile", "InstanceStore", "Receipt", "find_instances"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Receipt:
    """What :meth:`InstanceStore.receive` did with one instance."""

    #: The instance's header as read from the received bytes.
    header: InstanceHeader
    #: SHA-256 of the stored file; for a duplicate, of the copy stored first.
    sha256: str
    #: ``True`` when the SOP Instance UID was already stored: nothing changed.
    duplicate: bool


@dataclass(frozen=True, slots=True)
class InstanceFile:
    """Where a stored instance's bytes are, for retrieval."""

    study_instance_uid: str
    series_instance_uid: str
    sop_instance_uid: str
    transfer_syntax_uid: str
    sha256: str


class InstanceStore:
    """Stores received DICOM instances durably, each SOP Instance UID once.

    :param files: where the bytes go.
    :param sessions: sessions on the server database.
    """

    def __init__(self, files: FileStore, sessions: sessionmaker[Session]) -> None:
        #: The content-addressed file store holding the Part 10 files.
        self.files = files
        #: Session factory of the server database.
        self.sessions = sessions

    def receive(
        self,
        data: bytes,
        *,
        source: str,
        expected_sop_instance_uid: str | None = None,
        quarantine: bool = True,
        origin: Origin | None = None,
    ) -> Receipt:
        """Validate a Part 10 file, store its bytes and commit its row.

        :param data: the complete Part 10 file (preamble, meta group, data set).
        :param source: who sent it, e.g. ``dicom:MODALITY1`` or ``import``.
        :param expected_sop_instance_uid: the UID the sender announced (the
            C-STORE Affected SOP Instance UID); a data set naming another is refused.
        :param quarantine: keep refused input in the store's quarantine.
        :param origin: who sent it, for the AuditEvent (default: named by ``source``).
        :raises InvalidDicomError: if the input is refused; nothing is stored.
        :raises OSError: or a database error, if storing failed; the caller
            must report failure so the sender tries again.
        """
        origin = origin or Origin.named(source)
        try:
            header = read_instance_header(data)
            if expected_sop_instance_uid is not None and header.sop_instance_uid != expected_sop_instance_uid:
                raise InvalidDicomError(
                    f"The data set's SOP Instance UID `{header.sop_instance_uid}` differs from the "
                    f"Affected SOP Instance UID `{expected_sop_instance_uid}` of the C-STORE request.",
                    code=DicomProblem.INVALID_UID,
                )
        except InvalidDicomError as exc:
            if quarantine:
                self.files.quarantine(data, exc.reason, context={"source": source, "problem": str(exc.code)})
            event = instance_event(
                origin, None, outcome=INVALID, description=exc.reason, sop_instance_uid=expected_sop_instance_uid
            )
            record_alone(self.sessions, [event])
            raise
        try:
            known = self._stored_sha256(header.sop_instance_uid)
            if known is not None:
                return self._duplicate(header, known, data, origin)
            stored = self.files.put(data)
            with unit_of_work(self.sessions) as session:
                inserted = _insert_new(session, _row(header, stored.sha256, stored.size, source))
                if inserted:  # audited with the row, so a committed instance is never unaudited
                    enqueue(session.connection(), [instance_event(origin, header, description="Stored.")])
        except Exception:
            failure = "The instance could not be stored (disk or database failure)."
            record_alone(self.sessions, [instance_event(origin, header, outcome=FAILED, description=failure)])
            raise
        if not inserted:
            # Another association stored the same instance between our check and insert.
            sha256 = self._stored_sha256(header.sop_instance_uid) or stored.sha256
            return self._duplicate(header, sha256, data, origin)
        return Receipt(header=header, sha256=stored.sha256, duplicate=False)

    def _stored_sha256(self, sop_instance_uid: str) -> str | None:
        with unit_of_work(self.sessions, write=False) as session:
            return session.execute(
                select(DicomInstance.sha256).where(DicomInstance.sop_instance_uid == sop_instance_uid)
            ).scalar_one_or_none()

    def _duplicate(self, header: InstanceHeader, sha256: str, data: bytes, origin: Origin) -> Receipt:
        if hashlib.sha256(data).hexdigest() != sha256:
            # Same UID, other bytes: DICOM says it is the same instance, so the first
            # copy stays; an operator may want to know a sender re-encoded it.
            logger.warning(
                "Instance `%s` was received again with different content; the first copy is kept.",
                header.sop_instance_uid,
            )
        # Nothing is written, but the sender did hand this patient's instance over: record it.
        event = instance_event(origin, header, description="Already stored; the first copy is kept.")
        record_alone(self.sessions, [event])
        return Receipt(header=header, sha256=sha256, duplicate=True)


def find_instances(
    session: Session, study_uid: str, series_uid: str | None = None, sop_uid: str | None = None
) -> list[InstanceFile]:
    """Return the stored instances of a study, series or single instance, in arrival order."""
    query = select(
        DicomInstance.study_instance_uid,
        DicomInstance.series_instance_uid,
        DicomInstance.sop_instance_uid,
        DicomInstance.transfer_syntax_uid,
        DicomInstance.sha256,
    ).where(DicomInstance.study_instance_uid == study_uid)
    if series_uid is not None:
        query = query.where(DicomInstance.series_instance_uid == series_uid)
    if sop_uid is not None:
        query = query.where(DicomInstance.sop_instance_uid == sop_uid)
    return [InstanceFile(*row) for row in session.execute(query.order_by(DicomInstance.pk))]


def _row(header: InstanceHeader, sha256: str, size: int, source: str) -> dict[str, Any]:
    return {
        "sop_instance_uid": header.sop_instance_uid,
        "study_instance_uid": header.study_instance_uid,
        "series_instance_uid": header.series_instance_uid,
        "sop_class_uid": header.sop_class_uid,
        "transfer_syntax_uid": header.transfer_syntax_uid,
        "sha256": sha256,
        "size": size,
        "header": header_to_json(header),
        "source": source[:80],
        "received_at": datetime.now(UTC),
        "published": False,
        "published_at": None,
        "publish_error": None,
    }


def _insert_new(session: Session, values: dict[str, Any]) -> bool:
    """Insert the row unless its SOP Instance UID exists; return whether it was inserted."""
    dialect = session.get_bind().dialect.name
    # ON CONFLICT DO NOTHING keeps a concurrent duplicate from aborting the
    # transaction, which on PostgreSQL an IntegrityError would.
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(DicomInstance).values(**values).on_conflict_do_nothing(index_elements=["sop_instance_uid"])
    result = session.execute(statement)
    return bool(getattr(result, "rowcount", 0) == 1)
