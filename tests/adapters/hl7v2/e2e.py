"""Helpers for the end-to-end tests: a running listener on a test database and an MLLP client."""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from adapters.hl7v2.framing import Frame, MllpDecoder, encode_frame
from adapters.hl7v2.listener import Listener
from fhir_server.db import unit_of_work
from fhir_server.repository import RequestContext, SqlRepository
from models import Hl7v2Message

TIMEOUT = 10.0


class MllpClient:
    """A blocking MLLP client: send one message, read one ACK."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self._decoder = MllpDecoder()
        self._frames: list[bytes] = []

    def call(self, message: bytes) -> bytes:
        self.sock.sendall(encode_frame(message))
        while not self._frames:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("The server closed the connection.")
            self._frames += [e.payload for e in self._decoder.feed(data) if isinstance(e, Frame)]
        return self._frames.pop(0)

    def close(self) -> None:
        self.sock.close()


@contextmanager
def running(factory: sessionmaker[Session], **options: Any) -> Iterator[MllpClient]:
    """A listener on a free port and a client connected to it."""
    listener = Listener(factory, port=0, **options)
    client = MllpClient(listener.start())
    try:
        yield client
    finally:
        client.close()
        listener.stop()


def msa(ack: bytes) -> list[str]:
    """The MSA fields of an ACK."""
    segment = next(s for s in ack.decode("latin-1").split("\r") if s.startswith("MSA"))
    return segment.split("|")


def err(ack: bytes) -> list[str]:
    """The first ERR segment's fields."""
    return next(s for s in ack.decode("latin-1").split("\r") if s.startswith("ERR")).split("|")


def read(factory: sessionmaker[Session], reference: str) -> dict[str, Any]:
    """Read a stored resource back through the repository."""
    resource_type, resource_id = reference.split("/")
    with unit_of_work(factory, write=False) as session:
        stored = SqlRepository(session, RequestContext(actor="test")).read(resource_type, resource_id)
    assert stored.content is not None
    result: dict[str, Any] = orjson.loads(stored.content)
    return result


def rows(factory: sessionmaker[Session]) -> list[Hl7v2Message]:
    """Every inbox row, oldest first."""
    with unit_of_work(factory, write=False) as session:
        return list(session.scalars(select(Hl7v2Message).order_by(Hl7v2Message.pk)))


def mllp_send(port: int, messages: list[bytes]) -> list[bytes]:
    """Send ``messages`` with python-hl7's ``mllp_send``, a separate client process; return the ACKs.

    ``mllp_send`` reads MLLP-framed messages from a file (its stdin mode mixes
    str and bytes on Python 3), sends each and prints each ACK as received
    (framed) followed by a newline; it waits for an ACK after every message,
    so only messages that get one may be sent with it.
    """
    with tempfile.TemporaryDirectory() as folder:
        stream = Path(folder) / "messages.mllp"
        stream.write_bytes(b"".join(encode_frame(message) for message in messages))
        command = [sys.executable, "-m", "hl7.client", "--port", str(port), "--file", str(stream), "127.0.0.1"]
        done = subprocess.run(command, capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    decoder = MllpDecoder()
    # The newline after each ACK is stray bytes to the decoder.
    acks = [e.payload for e in decoder.feed(done.stdout) if isinstance(e, Frame)]
    assert len(acks) == len(messages), done.stdout
    return acks
