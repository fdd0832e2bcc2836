"""Choose the acknowledgement a message calls for, and wrap a store callback as a handler.

:func:`acknowledge` applies the acknowledgement rules (original or enhanced
mode, never an ACK for an ACK) to an outcome. :func:`acknowledging_handler`
turns a storage callback into the ``handler(message, peer) -> ack`` callable
that :class:`~adapters.hl7v2.server.MllpServer` runs, so storage code never
builds ACKs itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeAlias

from adapters.hl7v2.ack import (
    AckCode,
    AckError,
    ErrorCode,
    ErrorLocation,
    accept_ack_required,
    build_ack,
)
from adapters.hl7v2.errors import CharacterSetError, MessageRejected
from adapters.hl7v2.header import MessageHeader, decode_message, is_ack, parse_header

__all__ = ["Handler", "StoreCallback", "acknowledge", "acknowledging_handler"]

#: ``handler(message, peer) -> ack``: gets a raw payload and the peer's
#: ``host:port``, returns the ACK bytes to send (unframed), or ``b""`` for none.
Handler: TypeAlias = Callable[[bytes, str], bytes]
#: ``store(header, text, peer)``: commits a decoded message; raises
#: :class:`~adapters.hl7v2.errors.MessageRejected` to refuse it.
StoreCallback: TypeAlias = Callable[[MessageHeader, str, str], None]


def acknowledge(
    header: MessageHeader,
    errors: Sequence[AckError] = (),
    *,
    reject: bool = False,
    warnings: Sequence[AckError] = (),
) -> bytes:
    """Build the ACK the rules call for after processing, or ``b""`` when none is due.

    Original mode answers AA without errors, AE with errors, and AR when
    ``reject`` is set (the failure is unrelated to the content, so the sender
    may resend as is). Enhanced mode answers CA or CE only when MSH-15 asks for
    it; CR is left to code that judges MSH-9/11/12, which this function does not.

    :param header: the inbound message's header.
    :param errors: the errors to report; none means success.
    :param reject: the message was not processed for reasons unrelated to it.
    :param warnings: for a success, what was skipped: ERR segments (severity W or I) in an AA.
    """
    success = not errors and not reject
    if is_ack(header):
        return b""
    if header.enhanced_mode:
        if not accept_ack_required(header, success=success):
            return b""
        return build_ack(header, AckCode.CA if success else AckCode.CE, errors=errors)
    if success:
        return build_ack(header, AckCode.AA, errors=warnings)
    return build_ack(header, AckCode.AR if reject else AckCode.AE, errors=errors)


def acknowledging_handler(store: StoreCallback) -> Handler:
    """Wrap ``store`` into a handler that decodes, stores and acknowledges.

    ACKs are passed to ``store`` too (a partner's application ACKs may be worth
    keeping) but never answered. An MSH-18 character set that is unsupported
    or does not match the bytes is answered with error 103 on MSH-18 without
    calling ``store``. Other exceptions from ``store`` propagate, so the server
    answers with its reject ACK.

    :param store: commits a decoded message; raises
        :class:`~adapters.hl7v2.errors.MessageRejected` to refuse it.
    :raises HeaderError: (from the handler) the message has no usable MSH.
    """

    def handle(message: bytes, peer: str) -> bytes:
        header = parse_header(message)
        try:
            text = decode_message(message)
        except CharacterSetError as exc:
            where = ErrorLocation("MSH", 1, 18)
            return acknowledge(header, [AckError(ErrorCode.TABLE_VALUE_NOT_FOUND, str(exc), where)])
        try:
            store(header, text, peer)
        except MessageRejected as exc:
            return acknowledge(header, exc.errors)
        return acknowledge(header)

    return handle
