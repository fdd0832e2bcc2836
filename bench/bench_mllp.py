"""Measure HL7 v2 throughput end to end: ORU^R01 over MLLP, ACK received = stored and mapped.

Not a test: run ``python bench/bench_mllp.py [DATABASE_URL] [MESSAGES]``. It starts
the listener on a fresh migrated database (a temporary SQLite file by default),
sends MESSAGES distinct ORU^R01 messages (one report, three results) over one
connection and then over 4 concurrent connections, and prints messages/s.
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from pathlib import Path

# Lets `python bench/bench_mllp.py` run from a checkout without an install.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.hl7v2.framing import Frame, MllpDecoder, encode_frame
from adapters.hl7v2.listener import Listener
from fhir_server import migrations
from fhir_server.db import make_engine, make_session_factory

TEMPLATE = (
    "MSH|^~\\&|LAB|HOSP|FHIR|FHIR|20240302120000+0100||ORU^R01^ORU_R01|{n}|P|2.5.1\r"
    "PID|1||P{patient}^^^HOSP&1.2.3&ISO^MR||Doe^Jane||19700101|F\r"
    "OBR|1||F{n}^LAB|24323-8^Metabolic panel^LN|||20240302090000|||||||||||||||20240302110000|||F\r"
    "OBX|1|NM|2345-7^Glucose^LN||{n}.5|mg/dL^mg/dL^UCUM|70-105|H|||F\r"
    "OBX|2|NM|2951-2^Sodium^LN||140|mmol/L^mmol/L^UCUM|135-145|N|||F\r"
    "OBX|3|CWE|94500-6^SARS-CoV-2 RNA^LN||260373001^Detected^SCT||||||F\r"
)


def send(port: int, numbers: range) -> None:
    """Send each message on one connection and wait for its AA."""
    import socket

    sock = socket.create_connection(("127.0.0.1", port))
    decoder = MllpDecoder()
    for n in numbers:
        sock.sendall(encode_frame(TEMPLATE.format(n=n, patient=n % 200).encode()))
        frames: list[bytes] = []
        while not frames:
            frames = [e.payload for e in decoder.feed(sock.recv(65536)) if isinstance(e, Frame)]
        if b"MSA|AA|" not in frames[0]:
            raise RuntimeError(f"Message {n} was not accepted: {frames[0]!r}")
    sock.close()


def measure(port: int, start: int, count: int, connections: int) -> float:
    """Messages/s for ``count`` messages split over ``connections``."""
    per = count // connections
    threads = [
        threading.Thread(target=send, args=(port, range(start + i * per, start + (i + 1) * per)))
        for i in range(connections)
    ]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return per * connections / (time.perf_counter() - began)


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 400
    engine = make_engine(url)
    migrations.upgrade(engine)
    listener = Listener(make_session_factory(engine), port=0, run_worker=False)
    port = listener.start()
    try:
        measure(port, 10**6, 20, 1)  # warm-up: imports, validation caches, connection pool
        single = measure(port, 0, count, 1)
        concurrent = measure(port, count, count, 4)
    finally:
        listener.stop()
        engine.dispose()
    backend = engine.dialect.name
    print(f"{backend}: 1 connection:  {single:7.1f} ORU^R01 messages/s (5 resources each)")
    print(f"{backend}: 4 connections: {concurrent:7.1f} ORU^R01 messages/s")


if __name__ == "__main__":
    main()
