"""``fhir-server hl7 import``: HL7 v2 messages from files, through the listener's own path.

A file holds one message or many: MLLP-framed (``<VT> ... <FS><CR>``, as a
capture of a connection), or plain text with segments on lines ended by CR,
LF or CRLF, where each ``MSH`` line or a blank line starts a new message.
Batch envelope segments (``FHS``, ``BHS``, ``BTS``, ``FTS``) are passed over.
Segments are rejoined with CR, the HL7 segment terminator.

Each message goes to :func:`~adapters.hl7v2.listener.storing_handler`, the
handler behind ``hl7 listen``: stored in the inbox, mapped and written in one
transaction (enhanced-mode messages are mapped by a worker run here before the
command ends), with the same duplicate and conflict rules. A message is
rejected exactly when its ACK over MLLP would be AE/AR (or CE/CR), and the
report carries the error text that ACK's ERR segment would; it stays in the
inbox for ``hl7 errors`` and ``hl7 retry``. Importing the same file again
finds every message already received, so nothing is stored twice.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from adapters.hl7v2 import inbox
from adapters.hl7v2.errors import Hl7v2Error
from adapters.hl7v2.framing import Frame, MllpDecoder, StrayBytes
from adapters.hl7v2.header import MessageHeader, is_ack, parse_header
from adapters.hl7v2.listener import storing_handler
from adapters.hl7v2.worker import Worker
from fhir_server.db import unit_of_work

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from pathlib import Path

    from sqlalchemy.orm import Session, sessionmaker

    from fhir_server.import_report import ImportReport

__all__ = ["FileMessage", "import_messages", "split_messages"]

_LINE_END = re.compile(rb"\r\n|\r|\n")
_ENVELOPE = (b"FHS", b"BHS", b"BTS", b"FTS")
_BOM = b"\xef\xbb\xbf"
#: Reasons (report categories) by the inbox status of a message that was not applied.
_REASONS = {
    inbox.ERROR: "cannot be mapped (AE)",
    inbox.REJECTED: "rejected (AR)",
    inbox.CONFLICT: "control id reused with other content",
}


@dataclass(frozen=True, slots=True)
class FileMessage:
    """One message read from a file."""

    #: 1-based position of the message in its file.
    number: int
    #: 1-based line its MSH is on; ``None`` in an MLLP-framed file.
    line: int | None
    #: The message, segments ended by CR.
    content: bytes

    @property
    def where(self) -> str:
        """``message 2 (line 9)``, or ``message 2`` in an MLLP-framed file."""
        return f"message {self.number}" + (f" (line {self.line})" if self.line else "")


def _segments(payload: bytes) -> bytes:
    """Segments rejoined with CR, blank lines dropped."""
    return b"".join(line + b"\r" for line in _LINE_END.split(payload) if line.strip())


def split_messages(data: bytes) -> tuple[list[FileMessage], list[tuple[str | None, str, str]]]:
    """The messages of one file, and ``(where, reason, message)`` for bytes that are not part of one."""
    data = data.removeprefix(_BOM)
    if b"\x0b" in data:
        return _framed(data)
    messages: list[FileMessage] = []
    strays: list[tuple[str | None, str, str]] = []
    current: list[bytes] = []
    start = 0

    def close() -> None:
        if current:
            messages.append(FileMessage(len(messages) + 1, start, b"".join(s + b"\r" for s in current)))
            current.clear()

    for number, line in enumerate(_LINE_END.split(data), start=1):
        segment = line.rstrip(b" \t")
        if not segment.strip():
            close()
        elif segment[:3] in _ENVELOPE:
            close()
        elif segment.startswith(b"MSH"):
            close()
            current.append(segment)
            start = number
        elif current:
            current.append(segment)
        else:
            text = segment[:20].decode("latin-1")
            strays.append((f"line {number}", "segment outside a message", f"`{text}` is not in a message (no MSH)."))
    close()
    return messages, strays


def _framed(data: bytes) -> tuple[list[FileMessage], list[tuple[str | None, str, str]]]:
    """Messages of an MLLP-framed file, decoded by the listener's own MLLP decoder."""
    decoder = MllpDecoder(max_size=max(len(data), 1))
    messages: list[FileMessage] = []
    strays: list[tuple[str | None, str, str]] = []
    for event in decoder.feed(data):  # no frame is larger than the file: never an OversizeFrame
        if isinstance(event, Frame) and event.payload.strip():
            messages.append(FileMessage(len(messages) + 1, None, _segments(event.payload)))
        elif isinstance(event, StrayBytes) and event.data.strip():
            where = f"after message {len(messages)}"
            strays.append((where, "bytes outside MLLP frames", f"{len(event.data)} bytes outside any frame, skipped."))
    if decoder.in_frame:
        strays.append((f"after message {len(messages)}", "unterminated MLLP frame", "The last frame has no end block."))
    return messages, strays


@dataclass(frozen=True, slots=True)
class _Received:
    file: str
    message: FileMessage
    header: MessageHeader
    digest: str


def import_messages(
    factory: sessionmaker[Session],
    files: Iterable[Path],
    report: ImportReport,
    *,
    on_file: Callable[[], None] | None = None,
) -> None:
    """Import every message of ``files`` as ``hl7 listen`` would receive it; record the outcome in ``report``.

    :param on_file: called with no arguments after each file (progress).
    :raises sqlalchemy.exc.SQLAlchemyError: the database failed.
    """
    handler = storing_handler(factory)
    received: list[_Received] = []
    for path in files:
        try:
            data = path.read_bytes()
        except OSError as exc:
            report.add(path, None, "file not readable", f"{exc.strerror or exc}.")
            continue
        finally:
            report.files += 1
        messages, strays = split_messages(data)
        for where, reason, text in strays:
            report.add(path, where, reason, text)
        for message in messages:
            try:
                header = parse_header(message.content)
                handler(message.content, f"file:{path}"[:255])
            except Hl7v2Error as exc:  # no usable MSH: over MLLP, not even an ACK could be sent
                report.add(path, message.where, "no usable MSH", str(exc))
                continue
            if is_ack(header):
                report.add(path, message.where, "acknowledgement", "An ACK is not a message to import.")
                continue
            received.append(_Received(str(path), message, header, hashlib.sha256(message.content).hexdigest()))
        if on_file is not None:
            on_file()
    _finish(factory, received, report)


def _finish(factory: sessionmaker[Session], received: list[_Received], report: ImportReport) -> None:
    """Map what was left to a worker (enhanced mode), then report each message's inbox outcome."""
    if any(item.header.enhanced_mode for item in received):
        # Enhanced mode is acknowledged (CA) at receipt and mapped by a worker, as under `hl7 listen`.
        worker = Worker(factory, name="hl7-import")
        while worker.run_once():
            pass
    with unit_of_work(factory, write=False) as session:
        for item in received:
            _, row = inbox.lookup(session, item.header, item.digest)
            if row is None:  # not possible once the handler returned; kept as a loud failure
                report.add(item.file, item.message.where, "not stored", "The message is not in the inbox.")
            elif row.status == inbox.DONE:
                report.stored += 1
            else:
                where = f" (at {row.error_location})" if row.error_location else ""
                reason = _REASONS.get(row.status, row.status)
                report.add(item.file, item.message.where, reason, f"{row.error}{where}")
