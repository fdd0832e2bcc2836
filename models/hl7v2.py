"""The HL7 v2 inbox: every received message, raw, before it is acknowledged.

A row is written and committed before any positive ACK leaves the server, and
mapping runs from it, so a crash between receipt and mapping loses nothing.
The unique key (sender, MSH-10, content hash) makes an identical resend find
its original row instead of being applied twice, while a different message
reusing the same MSH-10 gets a row of its own, kept for review.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, intpk

#: MSH-3/MSH-4 as written (HD composites) and MSH-10; v2.7 allows 227 and 199 characters.
_hd = String(255)


class Hl7v2Message(Base):
    """One received HL7 v2 message and what became of it."""

    __tablename__ = "hl7v2_inbox"
    __table_args__ = (
        # Named by hand: the conventional name exceeds PostgreSQL's 63 characters.
        UniqueConstraint(
            "sending_application", "sending_facility", "control_id", "content_sha256", name="uq_hl7v2_inbox_message_key"
        ),
        # The worker's claim query: pending rows, oldest first.
        Index("ix_hl7v2_inbox_status_pk", "status", "pk"),
    )

    pk: Mapped[intpk]
    received_at: Mapped[datetime]
    #: ``host:port`` of the sender.
    peer: Mapped[str] = mapped_column(String(255))
    sending_application: Mapped[str] = mapped_column(_hd)
    sending_facility: Mapped[str] = mapped_column(_hd)
    control_id: Mapped[str] = mapped_column(_hd)
    #: MSH-9.1 and MSH-9.2, for listings.
    message_type: Mapped[str] = mapped_column(String(16))
    trigger_event: Mapped[str] = mapped_column(String(16))
    #: The message exactly as received.
    content: Mapped[bytes] = mapped_column(LargeBinary())
    content_sha256: Mapped[str] = mapped_column(String(64))
    #: ``pending``, ``done``, ``error`` (AE), ``rejected`` (AR) or ``conflict`` (MSH-10 reused).
    status: Mapped[str] = mapped_column(String(16))
    #: Whoever is mapping the row, and until when that claim holds.
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None]
    attempts: Mapped[int]
    #: Why the row is in ``error``/``rejected``/``conflict``, and where (``OBX[2]-5``).
    error: Mapped[str | None] = mapped_column(Text())
    error_location: Mapped[str | None] = mapped_column(String(32))
    #: The acknowledgement sent, replayed byte-for-byte to an identical resend.
    ack: Mapped[bytes | None] = mapped_column(LargeBinary())
    processed_at: Mapped[datetime | None]
    #: Newline-separated ``Type/id`` of the resources written.
    resources: Mapped[str | None] = mapped_column(Text())
