"""MLLP framing: an incremental, IO-free decoder and the frame encoder.

The Minimal Lower Layer Protocol (HL7 v2.x Implementation Guide, Appendix C)
wraps each message as ``<VT> payload <FS><CR>`` (0x0B ... 0x1C 0x0D).

:class:`MllpDecoder` is fed whatever bytes a socket returned and yields
events, in stream order:

* :class:`Frame` for each complete payload (possibly empty);
* :class:`StrayBytes` for bytes outside any frame, and for a partial frame
  abandoned because a new start block arrived before its end block;
* :class:`OversizeFrame` once when a payload grows past ``max_size``; the rest
  of that frame (and anything up to the next start block) is discarded
  without further events, and decoding resumes at the next start block.

The end block must be exactly 0x1C 0x0D: a 0x1C followed by anything else is
kept as payload, as the protocol defines no other terminator.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, auto
from typing import TypeAlias

from adapters.hl7v2.errors import FramingError

__all__ = [
    "DEFAULT_MAX_MESSAGE_SIZE",
    "END_BLOCK",
    "START_BLOCK",
    "DecoderEvent",
    "Frame",
    "MllpDecoder",
    "OversizeFrame",
    "StrayBytes",
    "encode_frame",
]

#: Byte that opens a frame (vertical tab).
START_BLOCK = b"\x0b"
#: Bytes that close a frame (file separator, carriage return).
END_BLOCK = b"\x1c\x0d"
#: Default payload limit. Lab results can embed base64 PDFs (OBX-5 of type
#: ED), so a few MB is normal; the limit bounds memory per connection.
DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024
#: How much of an oversize payload is kept so an error ACK can still be built
#: from its MSH segment.
_OVERSIZE_HEAD_SIZE = 4096

_VT = 0x0B
_FS = 0x1C
_CR = 0x0D


@dataclass(frozen=True, slots=True)
class Frame:
    """A complete MLLP payload, framing bytes removed."""

    #: The message bytes between the start block and the end block.
    payload: bytes


@dataclass(frozen=True, slots=True)
class StrayBytes:
    """Bytes that were discarded because they were not inside a frame."""

    #: The discarded bytes; an abandoned partial frame starts with 0x0B.
    data: bytes


@dataclass(frozen=True, slots=True)
class OversizeFrame:
    """A payload exceeded the size limit and is being discarded."""

    #: Payload bytes received when the limit was crossed (``> limit``).
    size: int
    #: The limit in force.
    limit: int
    #: The first bytes of the payload, enough to read its MSH segment.
    head: bytes


DecoderEvent: TypeAlias = Frame | StrayBytes | OversizeFrame


class _State(Enum):
    IDLE = auto()  # between frames: looking for a start block
    IN_FRAME = auto()  # collecting payload
    DISCARDING = auto()  # skipping the rest of an oversize frame


def encode_frame(payload: bytes) -> bytes:
    """Wrap ``payload`` in an MLLP frame.

    :param payload: the encoded HL7 message.
    :raises FramingError: ``payload`` contains 0x0B or 0x1C, which a receiver
        would read as framing.
    """
    for marker, name in ((_VT, "start block 0x0B"), (_FS, "end block 0x1C")):
        index = payload.find(marker)
        if index != -1:
            raise FramingError(f"The payload contains the MLLP {name} at offset {index}.")
    return START_BLOCK + payload + END_BLOCK


class MllpDecoder:
    """Incremental MLLP decoder; holds at most ``max_size`` payload bytes.

    :param max_size: the largest payload accepted, in bytes.
    :raises ValueError: ``max_size`` is not positive.
    """

    def __init__(self, max_size: int = DEFAULT_MAX_MESSAGE_SIZE) -> None:
        if max_size <= 0:
            raise ValueError(f"The maximum message size must be positive, not `{max_size}`.")
        #: The largest payload accepted, in bytes.
        self.max_size = max_size
        self._state = _State.IDLE
        self._buffer = bytearray()
        # A 0x1C that ended the previous chunk: frame end only if a 0x0D follows.
        self._pending_fs = False

    @property
    def in_frame(self) -> bool:
        """Whether a frame has started and not yet ended (or been discarded)."""
        return self._state is _State.IN_FRAME

    @property
    def buffered(self) -> int:
        """The number of payload bytes held for the frame in progress."""
        return len(self._buffer) + self._pending_fs

    def reset(self) -> None:
        """Forget any partial frame, e.g. before reusing the decoder."""
        self._state = _State.IDLE
        self._buffer.clear()
        self._pending_fs = False

    def feed(self, data: bytes) -> list[DecoderEvent]:
        """Consume ``data`` and return the events it completes, in order.

        :param data: the next bytes of the stream, of any length.
        """
        events: list[DecoderEvent] = []
        view = memoryview(data)
        pos = 0
        while pos < len(data):
            if self._state is _State.IN_FRAME:
                pos = self._collect(data, view, pos, events)
                continue
            start = data.find(START_BLOCK, pos)
            end = len(data) if start == -1 else start
            if self._state is _State.IDLE and end > pos:
                events.append(StrayBytes(bytes(view[pos:end])))
            if start != -1:
                self._state = _State.IN_FRAME
            pos = end + 1
        return events

    def _collect(self, data: bytes, view: memoryview, pos: int, events: list[DecoderEvent]) -> int:
        """Add payload from ``data[pos:]`` up to the next boundary; return the new position."""
        if self._pending_fs:
            self._pending_fs = False
            if data[pos] == _CR:
                self._finish(events)
                return pos + 1
            self._append(b"\x1c", events)
            if self._state is not _State.IN_FRAME:
                return pos
        fs = data.find(_FS, pos)
        vt = data.find(_VT, pos, len(data) if fs == -1 else fs)
        if vt != -1:
            # A new start block before the end block: the sender gave up on
            # the frame (e.g. it reconnected mid-message), so report and drop it.
            self._append(view[pos:vt], events)
            if self._state is _State.IN_FRAME:
                events.append(StrayBytes(START_BLOCK + bytes(self._buffer)))
            self._buffer.clear()
            self._state = _State.IN_FRAME
            return vt + 1
        if fs == -1:
            self._append(view[pos:], events)
            return len(data)
        self._append(view[pos:fs], events)
        if self._state is not _State.IN_FRAME:
            return fs
        if fs + 1 == len(data):
            self._pending_fs = True
            return fs + 1
        if data[fs + 1] == _CR:
            self._finish(events)
            return fs + 2
        self._append(b"\x1c", events)
        return fs + 1

    def _append(self, chunk: bytes | memoryview, events: list[DecoderEvent]) -> None:
        """Add payload bytes, switching to discard mode past the limit."""
        if self._state is not _State.IN_FRAME:
            return
        if len(self._buffer) + len(chunk) <= self.max_size:
            self._buffer += chunk
            return
        size = len(self._buffer) + len(chunk)
        head = bytes(self._buffer[:_OVERSIZE_HEAD_SIZE])
        head += bytes(chunk[: _OVERSIZE_HEAD_SIZE - len(head)])
        events.append(OversizeFrame(size=size, limit=self.max_size, head=head))
        self._buffer.clear()
        self._state = _State.DISCARDING

    def _finish(self, events: list[DecoderEvent]) -> None:
        """Emit the collected payload as a frame and wait for the next one."""
        events.append(Frame(bytes(self._buffer)))
        self._buffer.clear()
        self._state = _State.IDLE
