"""The DICOM instance store: one row per received SOP instance.

A row is committed before the sender is told the instance is stored, so it is
the durable record the FHIR publisher maps from: the bytes live in the
content-addressed file store under :attr:`DicomInstance.sha256`, and the header
fields the mapping needs are kept as JSON so publishing a study never rereads
its files. The unique SOP Instance UID makes a resent instance a no-op.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, intpk, json_bytes

#: DICOM UIDs are at most 64 characters (PS3.5 section 9.1).
_UID = String(64)


class DicomInstance(Base):
    """One stored DICOM instance and whether it has been published to FHIR."""

    __tablename__ = "dicom_instance"
    __table_args__ = (
        UniqueConstraint("sop_instance_uid"),
        Index("ix_dicom_instance_study_instance_uid", "study_instance_uid"),
        # The publisher's work queue: unpublished rows grouped by study.
        Index("ix_dicom_instance_published_study_instance_uid", "published", "study_instance_uid"),
    )

    pk: Mapped[intpk]
    #: SOP Instance UID (0008,0018); an instance is stored once.
    sop_instance_uid: Mapped[str] = mapped_column(_UID)
    #: Study Instance UID (0020,000D): the ImagingStudy the instance belongs to.
    study_instance_uid: Mapped[str] = mapped_column(_UID)
    #: Series Instance UID (0020,000E).
    series_instance_uid: Mapped[str] = mapped_column(_UID)
    #: SOP Class UID (0008,0016).
    sop_class_uid: Mapped[str] = mapped_column(_UID)
    #: Transfer Syntax UID the stored bytes are encoded in.
    transfer_syntax_uid: Mapped[str] = mapped_column(_UID)
    #: SHA-256 of the stored Part 10 file: its name in the file store.
    sha256: Mapped[str] = mapped_column(String(64))
    #: Size of the stored file in bytes.
    size: Mapped[int] = mapped_column(BigInteger)
    #: The instance header as JSON (``adapters.dicom._codec``), what publishing maps from.
    header: Mapped[json_bytes]
    #: Where it came from: ``dicom:<calling AE title>`` or ``import``.
    source: Mapped[str] = mapped_column(String(80))
    received_at: Mapped[datetime]
    #: Whether the current ImagingStudy of the study includes this instance.
    published: Mapped[bool]
    published_at: Mapped[datetime | None]
    #: Why the last publish attempt failed; cleared by a successful one.
    publish_error: Mapped[str | None] = mapped_column(Text)
