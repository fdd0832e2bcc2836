"""The storing MLLP handler: store, map, commit, then acknowledge.

Original mode: the raw message, its resources and its inbox row (with the
outcome and ACK) are committed in one transaction, shared with the messages
received at the same time on other connections (:mod:`._group`); then the
handler answers AA, AE (cannot be mapped, ERR names segment and field) or AR
(cannot be parsed, or unsupported). If the commit fails the handler raises
and the server answers AR: no positive ACK without a durable copy.

Enhanced mode (MSH-15/16 valued) answers CA right after the inbox commit and
leaves mapping to the worker, as does original mode with ``defer_mapping``
(then AA means "safely received"); a message type or event not mapped here is
answered CR (MSH-9 rejected) and kept as ``rejected``. An identical resend
(same sender, MSH-10 and bytes) gets the stored ACK again, or, if its row was
never finished (a crash), is mapped then; a different message reusing the
MSH-10 is kept as a ``conflict`` row and answered AE/CE with error 205.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from adapters.hl7v2 import inbox
from adapters.hl7v2._group import GroupCommitter
from adapters.hl7v2.ack import AckCode, AckError, ErrorCode, ErrorLocation, accept_ack_required, build_ack
from adapters.hl7v2.framing import DEFAULT_MAX_MESSAGE_SIZE
from adapters.hl7v2.handler import Handler, acknowledge
from adapters.hl7v2.header import MessageHeader, is_ack, parse_header
from adapters.hl7v2.mapping import SUPPORTED
from adapters.hl7v2.processing import process
from adapters.hl7v2.server import MllpServer
from adapters.hl7v2.worker import Worker

if TYPE_CHECKING:
    import ssl

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


def _commit_reject(header: MessageHeader) -> tuple[AckError, bytes] | None:
    """The error and CR for an enhanced-mode message whose MSH-9 is not mapped here, else ``None``."""
    kind, event = header.message_type.upper(), header.trigger_event.upper()
    if kind in SUPPORTED and event in SUPPORTED[kind]:
        return None
    if kind not in SUPPORTED:
        text = f"Message type `{kind}` in MSH-9 is not supported; supported are {', '.join(sorted(SUPPORTED))}."
        code = ErrorCode.UNSUPPORTED_MESSAGE_TYPE
    else:
        text = f"Trigger event `{event}` of message type `{kind}` in MSH-9 is not supported."
        code = ErrorCode.UNSUPPORTED_EVENT_CODE
    error = AckError(code, text, ErrorLocation("MSH", 1, 9))
    ack = build_ack(header, AckCode.CR, errors=[error]) if accept_ack_required(header, success=False) else b""
    return error, ack


def _take_over(
    factory: sessionmaker[Session], header: MessageHeader, message: bytes, peer: str, pk: int, lease: float
) -> bytes:
    """Claim and map row ``pk`` if no one holds it, else answer AR (206) so the sender retries."""
    claimed = inbox.claim(factory, f"listener:{threading.get_ident()}", lease=lease, limit=1, pk=pk)
    if not claimed:
        error = AckError(ErrorCode.APPLICATION_RECORD_LOCKED, _BUSY.format(header.control_id))
        return acknowledge(header, [error], reject=True)
    token = claimed[0][1]
    try:
        # The row holds these very bytes (a duplicate has the same digest) and no ACK yet.
        outcome = process(factory, pk, token, content=message, stored_ack=None, peer=peer)
    except Exception:
        # Let a resend or a worker retry now instead of after the lease.
        try:
            inbox.release(factory, pk, token)
        except Exception:
            logger.exception("Could not release the claim on inbox #%d.", pk)
        raise
    if outcome is None:
        raise RuntimeError(f"The claim on inbox #{pk} was lost while mapping it.")
    return outcome.ack


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

    committer = GroupCommitter(factory)

    def handle(message: bytes, peer: str) -> bytes:
        header = parse_header(message)
        if is_ack(header):
            return b""  # a partner's ACK is never answered, and there is nothing to map
        if not (header.enhanced_mode or defer_mapping):
            applied = committer.submit(header, message, peer, _conflict_ack(header))
            if applied.ack is not None:
                return applied.ack
            # Received before but never finished (a crash, or in flight): take it over if free.
            return _take_over(factory, header, message, peer, applied.pk, lease)
        reject = _commit_reject(header) if header.enhanced_mode else None
        receipt = inbox.receive(
            factory, header, message, peer, claim_token=None, lease=lease,
            accept_ack=reject[1] if reject else acknowledge(header), conflict_ack=_conflict_ack(header),
            rejected=(reject[0].message, "MSH[1]-9") if reject else None,
        )  # fmt: skip
        if receipt.ack is None:  # stored before without an ACK: unfinished, or reset for a retry
            return _take_over(factory, header, message, peer, receipt.pk, lease)
        if worker is not None and not receipt.duplicate:
            worker.wake()
        return receipt.ack

    return handle


class Listener:
    """The MLLP server with the storing handler and an in-process worker.

    The worker maps what the handler leaves to it (enhanced mode, deferred
    mapping) and resumes rows whose claim expired (a crash mid-mapping).
    With ``ssl_context`` the server speaks MLLP over TLS only.
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
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        lease: float = 30.0,
        reuse_port: bool = False,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.worker = Worker(factory, name=f"listener-worker:{port}") if run_worker else None
        handler = storing_handler(factory, defer_mapping=defer_mapping, lease=lease, worker=self.worker)
        self.server = MllpServer(
            handler, host=host, port=port, max_workers=max_workers, max_message_size=max_message_size,
            reuse_port=reuse_port, ssl_context=ssl_context,
        )  # fmt: skip
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
