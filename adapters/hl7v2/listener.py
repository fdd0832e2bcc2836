"""The storing MLLP handler: inbox first, then map, then acknowledge.

Per message (original mode): commit the raw message to the inbox, claimed by
this process; map and write it (:func:`~adapters.hl7v2.processing.process`);
answer AA, AE (cannot be mapped, ERR names segment and field) or AR (cannot
be parsed, or unsupported). If the inbox commit fails the handler raises and
the server answers AR: no positive ACK without a durable copy.

Enhanced mode (MSH-15/16 valued) answers CA right after the inbox commit and
leaves mapping to the worker, as does original mode with ``defer_mapping``
(then AA means "safely received"). An identical resend (same sender, MSH-10
and bytes) gets the stored ACK again; a different message reusing the MSH-10
is kept as a ``conflict`` row and answered AE/CE with error 205.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from adapters.hl7v2 import inbox
from adapters.hl7v2.ack import AckError, ErrorCode, ErrorLocation
from adapters.hl7v2.handler import Handler, acknowledge
from adapters.hl7v2.header import MessageHeader, is_ack, parse_header
from adapters.hl7v2.processing import process
from adapters.hl7v2.server import MllpServer
from adapters.hl7v2.worker import Worker

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

__all__ = ["Listener", "storing_handler"]

logger = logging.getLogger(__name__)
_BUSY = "Message `{}` is still being processed by another connection; resend it later."


def _conflict_ack(header: MessageHeader) -> Callable[[int], bytes]:
    """The builder of the AE/CE (error 205) for a message reusing an MSH-10."""

    def build(original: int) -> bytes:
        text = (
            f"Message control id `{header.control_id}` was already received with different content "
            f"(inbox #{original}); this message was kept for review and not applied."
        )
        return acknowledge(header, [AckError(ErrorCode.DUPLICATE_KEY_IDENTIFIER, text, ErrorLocation("MSH", 1, 10))])

    return build


def storing_handler(
    factory: sessionmaker[Session], *, defer_mapping: bool = False, lease: float = 30.0, worker: Worker | None = None
) -> Handler:
    """Build the ``handler(message, peer) -> ack`` that stores, maps and acknowledges.

    :param defer_mapping: acknowledge original-mode messages after the inbox
        commit and leave mapping to workers.
    :param lease: seconds this process's claim on a message being mapped holds.
    :param worker: woken when a message is left to the worker.
    :raises HeaderError: (from the handler) no MSH to store or answer.
    """

    def handle(message: bytes, peer: str) -> bytes:
        header = parse_header(message)
        if is_ack(header):
            return b""  # a partner's ACK is never answered, and there is nothing to map
        inline = not (header.enhanced_mode or defer_mapping)
        token = inbox.new_token(f"listener:{threading.get_ident()}") if inline else None
        receipt = inbox.receive(
            factory, header, message, peer, claim_token=token, lease=lease,
            accept_ack=None if inline else acknowledge(header), conflict_ack=_conflict_ack(header),
        )  # fmt: skip
        if receipt.duplicate and receipt.ack is not None:
            return receipt.ack
        if receipt.duplicate:
            # Received before but never finished (a crash, or in flight): take it over if free.
            claimed = inbox.claim(factory, f"listener:{threading.get_ident()}", lease=lease, limit=1, pk=receipt.pk)
            if not claimed:
                error = AckError(ErrorCode.APPLICATION_RECORD_LOCKED, _BUSY.format(header.control_id))
                return acknowledge(header, [error], reject=True)
            token = claimed[0][1]
        elif not inline or receipt.status == inbox.CONFLICT:
            if worker is not None:
                worker.wake()
            return receipt.ack or b""
        assert token is not None
        try:
            outcome = process(factory, receipt.pk, token)
        except Exception:
            # Let a resend or a worker retry now instead of after the lease.
            try:
                inbox.release(factory, receipt.pk, token)
            except Exception:
                logger.exception("Could not release the claim on inbox #%d.", receipt.pk)
            raise
        if outcome is None:
            raise RuntimeError(f"The claim on inbox #{receipt.pk} was lost while mapping it.")
        return outcome.ack

    return handle


class Listener:
    """The MLLP server with the storing handler and an in-process worker.

    The worker maps what the handler leaves to it (enhanced mode, deferred
    mapping) and resumes rows whose claim expired (a crash mid-mapping).
    """

    def __init__(
        self,
        factory: sessionmaker[Session],
        *,
        host: str = "127.0.0.1",
        port: int = 2575,
        defer_mapping: bool = False,
        run_worker: bool = True,
        max_workers: int | None = None,
    ) -> None:
        self.worker = Worker(factory, name=f"listener-worker:{port}") if run_worker else None
        handler = storing_handler(factory, defer_mapping=defer_mapping, worker=self.worker)
        self.server = MllpServer(handler, host=host, port=port, max_workers=max_workers)
        self._thread: threading.Thread | None = None

    def start(self) -> int:
        """Start serving (and the worker thread); return the bound port."""
        port = self.server.start()
        if self.worker is not None:
            self._thread = threading.Thread(target=self.worker.run, name="hl7v2-worker", daemon=True)
            self._thread.start()
        return port

    def stop(self) -> None:
        """Stop accepting, finish ACKs in progress, stop the worker."""
        self.server.stop()
        if self.worker is not None and self._thread is not None:
            self.worker.stop()
            self._thread.join()
