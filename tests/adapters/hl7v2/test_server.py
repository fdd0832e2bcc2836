"""The MLLP server over real sockets on 127.0.0.1."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from adapters.hl7v2.ack import build_ack
from adapters.hl7v2.framing import Frame, MllpDecoder, encode_frame
from adapters.hl7v2.handler import Handler, acknowledging_handler
from adapters.hl7v2.header import MessageHeader
from adapters.hl7v2.server import MllpServer

Serve = Callable[..., MllpServer]
TIMEOUT = 5.0


def message(control_id: str, version: str = "2.5") -> bytes:
    return (
        f"MSH|^~\\&|SND|SFAC|RCV|RFAC|20240101||ADT^A01^ADT_A01|{control_id}|P|{version}\rPID|1||{control_id}\r"
    ).encode()


def msa(ack: bytes) -> list[str]:
    return ack.decode().split("\r")[1].split("|")


class Client:
    """A blocking MLLP client that reads ACK frames one at a time."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._decoder = MllpDecoder()
        self._frames: list[bytes] = []

    def send(self, *payloads: bytes) -> None:
        self.sock.sendall(b"".join(encode_frame(payload) for payload in payloads))

    def receive(self) -> bytes:
        while not self._frames:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("The server closed the connection.")
            events = self._decoder.feed(data)
            self._frames += [event.payload for event in events if isinstance(event, Frame)]
        return self._frames.pop(0)

    def wait_closed(self) -> bytes:
        """Read until the server closes; return what arrived meanwhile."""
        received = b""
        while data := self.sock.recv(65536):
            received += data
        return received

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def serve() -> Iterator[Serve]:
    servers: list[MllpServer] = []

    def start(handler: Handler, **options: Any) -> MllpServer:
        server = MllpServer(handler, host="127.0.0.1", port=0, **options)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def connect() -> Iterator[Callable[[MllpServer], Client]]:
    clients: list[Client] = []

    def open_client(server: MllpServer) -> Client:
        assert server.port is not None
        clients.append(Client(server.port))
        return clients[-1]

    yield open_client
    for client in clients:
        client.close()


def recording_handler() -> tuple[Handler, list[str]]:
    stored: list[str] = []
    return acknowledging_handler(lambda header, text, peer: stored.append(header.control_id)), stored


def test_many_messages_over_one_connection_in_order(serve: Serve, connect: Any) -> None:
    in_flight = 0
    most = 0
    lock = threading.Lock()
    stored: list[str] = []

    def store(header: MessageHeader, text: str, peer: str) -> None:
        nonlocal in_flight, most
        with lock:
            in_flight += 1
            most = max(most, in_flight)
        time.sleep(0.001)
        stored.append(header.control_id)
        with lock:
            in_flight -= 1

    client = connect(serve(acknowledging_handler(store), max_workers=8))
    ids = [f"M{i}" for i in range(100)]
    client.send(*(message(i) for i in ids))  # pipelined in one write
    assert [msa(client.receive()) for _ in ids] == [["MSA", "AA", i] for i in ids]
    assert stored == ids
    assert most == 1


def test_next_frame_waits_for_the_previous_ack(serve: Serve, connect: Any) -> None:
    release, entered = threading.Event(), threading.Event()
    calls: list[str] = []

    def store(header: MessageHeader, text: str, peer: str) -> None:
        calls.append(header.control_id)
        entered.set()
        assert release.wait(TIMEOUT)

    client = connect(serve(acknowledging_handler(store)))
    client.send(message("FIRST"), message("SECOND"))
    assert entered.wait(TIMEOUT)
    time.sleep(0.1)
    assert calls == ["FIRST"]
    release.set()
    assert msa(client.receive())[2] == "FIRST"
    assert msa(client.receive())[2] == "SECOND"


def test_concurrent_connections(serve: Serve, connect: Any) -> None:
    # Each connection's first message waits for the other three: this only
    # passes if four handlers run at the same time.
    barrier = threading.Barrier(4, timeout=TIMEOUT)

    def store(header: MessageHeader, text: str, peer: str) -> None:
        if header.control_id.endswith("-0"):
            barrier.wait()

    server = serve(acknowledging_handler(store), max_workers=4)
    clients = [connect(server) for _ in range(4)]

    def converse(number: int) -> list[str]:
        client, codes = clients[number], []
        for i in range(10):
            client.send(message(f"C{number}-{i}"))
            ack = msa(client.receive())
            assert ack[2] == f"C{number}-{i}"
            codes.append(ack[1])
        return codes

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(converse, range(4)))
    assert results == [["AA"] * 10] * 4


def test_idle_connection_is_closed(serve: Serve, connect: Any) -> None:
    handler, _ = recording_handler()
    server = serve(handler, idle_timeout=0.2)
    idle, partial = connect(server), connect(server)
    partial.sock.sendall(b"\x0bMSH|^~\\&|half")
    started = time.monotonic()
    assert idle.wait_closed() == b""
    assert partial.wait_closed() == b""
    assert time.monotonic() - started < 2


def test_oversize_frame_gets_an_error_ack_and_the_connection_goes_on(serve: Serve, connect: Any) -> None:
    handler, stored = recording_handler()
    client = connect(serve(handler, max_message_size=300))
    client.send(message("BIG") + b"OBX|1|TX|||" + b"x" * 1000 + b"\r", message("SMALL"))
    big = client.receive().decode()
    assert msa(big.encode()) == ["MSA", "AE", "BIG"]
    assert big.split("\r")[2] == (
        "ERR|||207^Application internal error^HL70357|E||||"
        "The message is larger than the 300-byte limit and was discarded."
    )
    assert msa(client.receive()) == ["MSA", "AA", "SMALL"]
    assert stored == ["SMALL"]


def test_oversize_frame_without_readable_header_closes(serve: Serve, connect: Any) -> None:
    handler, _ = recording_handler()
    client = connect(serve(handler, max_message_size=100))
    client.send(b"MSH|^~\\&|" + b"y" * 500)
    assert client.wait_closed() == b""


def test_frame_split_over_several_sends(serve: Serve, connect: Any) -> None:
    handler, stored = recording_handler()
    client = connect(serve(handler))
    stream = encode_frame(message("S1")) + encode_frame(message("S2"))
    for start in range(0, len(stream), 7):
        client.sock.sendall(stream[start : start + 7])
        time.sleep(0.002)
    assert msa(client.receive())[2] == "S1"
    assert msa(client.receive())[2] == "S2"
    assert stored == ["S1", "S2"]


def test_handler_failure_gets_application_reject(serve: Serve, connect: Any) -> None:
    def store(header: MessageHeader, text: str, peer: str) -> None:
        if header.control_id == "BOOM":
            raise RuntimeError("database down")

    client = connect(serve(acknowledging_handler(store)))
    client.send(message("BOOM", version="2.4"), message("OK"))
    failure = client.receive().decode().split("\r")
    assert failure[1] == ("MSA|AR|BOOM|The receiving application failed to process the message; it was not stored.")
    assert failure[2] == "ERR|^^^207&Application internal error&HL70357"
    assert msa(client.receive()) == ["MSA", "AA", "OK"]


def test_handler_failure_in_enhanced_mode_gets_commit_error(serve: Serve, connect: Any) -> None:
    def failing(payload: bytes, peer: str) -> bytes:
        raise RuntimeError("database down")

    client = connect(serve(failing))
    client.send(message("E1").replace(b"|P|2.5\r", b"|P|2.5|||ER|NE\r"))
    assert msa(client.receive())[:3] == ["MSA", "CE", "E1"]


def test_handler_failure_without_header_closes(serve: Serve, connect: Any) -> None:
    handler, _ = recording_handler()
    client = connect(serve(handler))
    client.send(b"PID|1||no header\r")
    assert client.wait_closed() == b""


def test_handler_returning_non_bytes_is_a_failure(serve: Serve, connect: Any) -> None:
    def wrong_type(payload: bytes, peer: str) -> Any:
        return "AA"

    client = connect(serve(wrong_type))
    client.send(message("STR"))
    assert msa(client.receive())[:3] == ["MSA", "AR", "STR"]


def test_acks_are_never_answered(serve: Serve, connect: Any) -> None:
    # A careless handler that answers everything, ACKs included.
    def careless(payload: bytes, peer: str) -> bytes:
        return b"MSH|^~\\&|R|F|S|F|2024||ACK^A01^ACK|1|P|2.5\rMSA|AA|" + payload[-6:-1] + b"\r"

    client = connect(serve(careless))
    client.send(build_ack(message("ORIG1")), message("MSG02"))
    assert msa(client.receive())[2] == "MSG02"


def test_empty_frames_and_stray_bytes_are_logged_and_skipped(
    serve: Serve, connect: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="adapters.hl7v2.server")
    handler, stored = recording_handler()
    client = connect(serve(handler))
    client.sock.sendall(b"garbage" + b"\x0b\x1c\r" + encode_frame(message("AFTER")))
    assert msa(client.receive())[2] == "AFTER"
    assert stored == ["AFTER"]
    text = caplog.text
    assert "Discarded 7 stray bytes from 127.0.0.1:" in text
    assert "Ignored an empty MLLP frame" in text


def test_stop_lets_the_ack_in_progress_finish(serve: Serve, connect: Any) -> None:
    release, entered = threading.Event(), threading.Event()

    def store(header: MessageHeader, text: str, peer: str) -> None:
        entered.set()
        assert release.wait(TIMEOUT)

    server = serve(acknowledging_handler(store))
    busy, idle = connect(server), connect(server)
    busy.send(message("LAST"))
    assert entered.wait(TIMEOUT)
    stopper = threading.Thread(target=server.stop)
    stopper.start()
    assert idle.wait_closed() == b""  # idle connections go at once
    release.set()
    assert msa(busy.receive()) == ["MSA", "AA", "LAST"]
    assert busy.wait_closed() == b""
    stopper.join(TIMEOUT)
    assert not stopper.is_alive()
    assert server.port is None


def test_start_stop_and_connection_limit(connect: Any) -> None:
    handler, _ = recording_handler()
    with MllpServer(handler, port=0, max_connections=1) as server:
        assert server.port
        first = connect(server)
        first.send(message("ONE"))
        assert msa(first.receive())[2] == "ONE"
        second = connect(server)
        with pytest.raises(ConnectionError):
            second.send(message("TWO"))
            second.receive()
        with pytest.raises(RuntimeError, match="already running"):
            server.start()
    assert server.port is None
    server.stop()  # stopping twice is harmless


def test_bind_failure_is_raised_by_start() -> None:
    handler, _ = recording_handler()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = MllpServer(handler, port=taken.getsockname()[1])
        with pytest.raises(OSError):
            server.start()
    assert server.port is None
