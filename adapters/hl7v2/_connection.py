"""One MLLP connection: read, decode and answer frames strictly in order.

Used by :class:`~adapters.hl7v2.server.MllpServer`; see its module docstring
for the failure policy implemented here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from adapters.hl7v2.ack import AckError, ErrorCode
from adapters.hl7v2.errors import Hl7v2Error
from adapters.hl7v2.framing import (
    DecoderEvent,
    MllpDecoder,
    OversizeFrame,
    StrayBytes,
    encode_frame,
)
from adapters.hl7v2.handler import acknowledge
from adapters.hl7v2.header import MessageHeader, is_ack, parse_header

if TYPE_CHECKING:
    from concurrent.futures import Executor

    from adapters.hl7v2.handler import Handler

logger = logging.getLogger("adapters.hl7v2.server")

_READ_SIZE = 64 * 1024
_PREVIEW = 64
_FAILED = "The receiving application failed to process the message; it was not stored."


@dataclass(frozen=True, slots=True)
class Settings:
    """What every connection of one server shares."""

    handler: Handler
    executor: Executor
    max_message_size: int
    idle_timeout: float | None
    write_timeout: float
    #: Tells a connection to finish after the ACK in progress.
    stopping: Callable[[], bool]


def peer_name(peername: Any) -> str:
    """Format a socket peer address as ``host:port`` (``[v6]:port``)."""
    if not isinstance(peername, tuple):
        return str(peername)
    host, port = peername[0], peername[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _preview(data: bytes) -> str:
    """A short printable excerpt of ``data`` for logs."""
    return repr(data[:_PREVIEW]) + ("..." if len(data) > _PREVIEW else "")


def _header_or_none(payload: bytes) -> MessageHeader | None:
    """Parse the header, or ``None`` when the message has none readable."""
    try:
        return parse_header(payload)
    except Hl7v2Error:
        return None


class Connection:
    """Serves one accepted socket until EOF, idle timeout, error or stop."""

    def __init__(self, settings: Settings, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._settings, self._reader, self._writer = settings, reader, writer
        #: ``host:port`` of the sender.
        self.peer = peer_name(writer.get_extra_info("peername"))
        #: True while handling frames; a stop lets such a connection finish its ACK.
        self.busy = False

    async def serve(self) -> None:
        """Serve the connection, log how it ended and close it."""
        logger.info("MLLP connection from %s.", self.peer)
        try:
            await self._serve()
        except (ConnectionError, TimeoutError, Hl7v2Error) as exc:
            logger.warning("MLLP connection from %s failed: %s", self.peer, exc)
        except Exception:
            logger.exception("Unexpected error on the MLLP connection from %s.", self.peer)
        finally:
            self._writer.close()
            with suppress(Exception):
                await asyncio.wait_for(self._writer.wait_closed(), self._settings.write_timeout)
            self._writer.transport.abort()  # no-op once closed; drops a peer that stopped reading
            logger.info("MLLP connection from %s closed.", self.peer)

    async def _serve(self) -> None:
        """Read, decode and answer frames in order."""
        settings = self._settings
        decoder = MllpDecoder(settings.max_message_size)
        while not settings.stopping():
            try:
                data = await asyncio.wait_for(self._reader.read(_READ_SIZE), settings.idle_timeout)
            except TimeoutError:
                logger.info(
                    "Closing the MLLP connection from %s: idle for %ss.",
                    self.peer,
                    settings.idle_timeout,
                )
                return
            if not data:
                if decoder.in_frame:
                    logger.warning(
                        "%s closed the connection in the middle of a frame; %d bytes discarded.",
                        self.peer,
                        decoder.buffered,
                    )
                return
            self.busy = True
            try:
                for event in decoder.feed(data):
                    # Not reading while a frame is handled is what keeps the
                    # order and pushes back on a sender faster than storage.
                    if not await self._on_event(event) or settings.stopping():
                        return
            finally:
                self.busy = False

    async def _on_event(self, event: DecoderEvent) -> bool:
        """Handle one decoder event; return whether to keep the connection open."""
        if isinstance(event, StrayBytes):
            # Trailing CR/LF after frames is a common sender quirk, not news.
            level = logging.DEBUG if not event.data.strip() else logging.WARNING
            size, excerpt = len(event.data), _preview(event.data)
            logger.log(level, "Discarded %d stray bytes from %s: %s", size, self.peer, excerpt)
            return True
        if isinstance(event, OversizeFrame):
            limit = event.limit
            logger.warning("Discarding a message from %s: over the %d-byte limit.", self.peer, limit)
            text = f"The message is larger than the {limit}-byte limit and was discarded."
            return await self._answer_failure(event.head, text, reject=False, complete=False)
        if not event.payload.strip(b"\r\n"):
            logger.warning("Ignored an empty MLLP frame from %s.", self.peer)
            return True
        return await self._process(event.payload)

    async def _process(self, payload: bytes) -> bool:
        """Run the handler on one message off the event loop and write its ACK."""
        settings = self._settings
        loop = asyncio.get_running_loop()
        try:
            reply = await loop.run_in_executor(settings.executor, settings.handler, payload, self.peer)
            if not isinstance(reply, bytes):
                raise TypeError(f"The handler returned `{type(reply).__name__}` instead of bytes.")
            frame = encode_frame(reply) if reply else b""
        except Exception:
            logger.exception("The handler failed on a message from %s: %s", self.peer, _preview(payload))
            return await self._answer_failure(payload, _FAILED, reject=True, complete=True)
        header = _header_or_none(payload)
        if frame and header is not None and is_ack(header):
            logger.warning("Not answering acknowledgement `%s` from %s.", header.control_id, self.peer)
            return True
        if frame:
            await self._write(frame)
        return True

    async def _answer_failure(self, payload: bytes, text: str, *, reject: bool, complete: bool) -> bool:
        """Send the error ACK for a failed message; ``False`` when none can be addressed.

        :param complete: ``payload`` is the whole message, not a truncated head.
        """
        # A truncated head may cut MSH short; only a terminated MSH is trusted then.
        readable = complete or b"\r" in payload or b"\n" in payload
        header = _header_or_none(payload) if readable else None
        if header is None:
            logger.warning("Closing the connection from %s: no MSH to address an error ACK to.", self.peer)
            return False
        error = AckError(ErrorCode.APPLICATION_INTERNAL_ERROR, text)
        reply = acknowledge(header, [error], reject=reject)
        if reply:
            await self._write(encode_frame(reply))
        return True

    async def _write(self, frame: bytes) -> None:
        """Write one whole frame at once and wait until the peer has taken it."""
        self._writer.write(frame)
        await asyncio.wait_for(self._writer.drain(), self._settings.write_timeout)
