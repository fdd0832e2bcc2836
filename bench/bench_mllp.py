"""Measure HL7 v2 throughput end to end: ORU^R01 over MLLP, ACK received = stored and mapped.

Not a test: run ``python bench/bench_mllp.py [DATABASE_URL] [MESSAGES] [--profile FILE]``.

It migrates a fresh database (a temporary SQLite file by default; for a
PostgreSQL URL a throw-away database is created next to the one named and
dropped afterwards), starts ``fhir-server hl7 listen`` as its own process, as
in production, and sends MESSAGES distinct ORU^R01 messages (one report,
5 to 10 results each, 200 distinct patients) over 4 concurrent MLLP
connections, each waiting for its ACK. In original mode an AA is sent only
after the message is committed to the inbox *and* its resources are written,
so messages/s ACKed is also messages/s mapped. ``--profile FILE`` samples the
listener with py-spy (all threads, ``--format raw``: collapsed stacks) while
the measured messages are sent. The listener's CPU time per message is printed
too: unlike messages/s it does not depend on what else runs on the machine.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Lets `python bench/bench_mllp.py` run from a checkout without an install.
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from adapters.hl7v2.framing import Frame, MllpDecoder, encode_frame  # noqa: E402
from fhir_server import migrations  # noqa: E402
from fhir_server.db import make_engine  # noqa: E402

CONNECTIONS = 4
HEADER = (
    "MSH|^~\\&|LAB|HOSP|FHIR|FHIR|20240302120000+0100||ORU^R01^ORU_R01|{n}|P|2.5.1\r"
    "PID|1||P{patient}^^^HOSP&1.2.3&ISO^MR||Doe^Jane||19700101|F\r"
    "OBR|1||F{n}^LAB|24323-8^Metabolic panel^LN|||20240302090000|||||||||||||||20240302110000|||F\r"
)
RESULTS = [
    "NM|2345-7^Glucose^LN||{n}.5|mg/dL^mg/dL^UCUM|70-105|H",
    "NM|2951-2^Sodium^LN||140|mmol/L^mmol/L^UCUM|135-145|N",
    "NM|2823-3^Potassium^LN||4.1|mmol/L^mmol/L^UCUM|3.5-5.1|N",
    "NM|2075-0^Chloride^LN||101|mmol/L^mmol/L^UCUM|98-107|N",
    "NM|2028-9^Carbon dioxide^LN||24|mmol/L^mmol/L^UCUM|22-29|N",
    "NM|3094-0^Urea nitrogen^LN||15|mg/dL^mg/dL^UCUM|7-20|N",
    "NM|2160-0^Creatinine^LN||0.9|mg/dL^mg/dL^UCUM|0.6-1.2|N",
    "NM|17861-6^Calcium^LN||9.4|mg/dL^mg/dL^UCUM|8.5-10.2|N",
    "ST|8251-1^Service comment^LN||fasting",
    "CWE|94500-6^SARS-CoV-2 RNA^LN||260373001^Detected^SCT",
]


def message(n: int) -> tuple[bytes, int]:
    """ORU^R01 number ``n`` with 5 to 10 OBX, and how many resources it maps to."""
    count = 5 + n % 6
    lines = [f"OBX|{i + 1}|{RESULTS[i].format(n=n)}||||F\r" for i in range(count)]
    # Patient, DiagnosticReport, one Observation per OBX.
    return (HEADER.format(n=n, patient=n % 200) + "".join(lines)).encode(), 2 + count


def send(port: int, numbers: range, acked: list[int]) -> None:
    """Send each message on one connection and wait for its AA."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    decoder = MllpDecoder()
    for n in numbers:
        payload, _ = message(n)
        sock.sendall(encode_frame(payload))
        frames: list[bytes] = []
        while not frames:
            frames = [e.payload for e in decoder.feed(sock.recv(65536)) if isinstance(e, Frame)]
        if b"MSA|AA|" not in frames[0]:
            raise RuntimeError(f"Message {n} was not accepted: {frames[0]!r}")
        acked.append(n)
    sock.close()


def measure(port: int, start: int, count: int) -> tuple[float, float]:
    """Messages/s and resources/s for ``count`` messages split over the connections."""
    per = count // CONNECTIONS
    acked: list[int] = []
    ranges = [range(start + i * per, start + (i + 1) * per) for i in range(CONNECTIONS)]
    threads = [threading.Thread(target=send, args=(port, r, acked)) for r in ranges]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    if len(acked) != per * CONNECTIONS:
        raise RuntimeError(f"Only {len(acked)} of {per * CONNECTIONS} messages were acknowledged.")
    resources = sum(message(n)[1] for n in acked)
    return len(acked) / elapsed, resources / elapsed


@contextmanager
def database(url: str | None) -> Iterator[str]:
    """A fresh migrated database: a temporary SQLite file, or a throw-away PostgreSQL database."""
    if url is None:
        yield f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
        return
    name = f"bench_mllp_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def listener(url: str, processes: int = 1) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """``fhir-server hl7 listen`` in its own process(es); yields the first and its port once it accepts."""
    port = free_port()
    command = [sys.executable, "-m", "fhir_server.cli", "hl7", "listen", "--port", str(port), "--no-worker"]
    command += ["--processes", str(processes)]
    env = {**os.environ, "FHIR_SERVER_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("The listener did not start.") from None
                time.sleep(0.1)
        yield process, port
    finally:
        process.terminate()
        process.wait(30)


@contextmanager
def profiled(pid: int, output: str | None) -> Iterator[None]:
    """Sample process ``pid`` with py-spy into ``output`` while the block runs."""
    if output is None:
        yield
        return
    spy = Path(sys.executable).with_name("py-spy")
    command = [str(spy), "record", "--pid", str(pid), "--format", "raw", "--output", output, "--threads"]
    # PYSPY_FLAGS=--gil samples only the thread holding the GIL: where Python CPU goes.
    command += os.environ.get("PYSPY_FLAGS", "").split()
    sampler = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)  # py-spy attaches
    try:
        yield
    finally:
        sampler.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        sampler.wait(60)


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of process ``pid`` (all threads), from /proc; 0 where there is none."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_tree(pid: int) -> list[int]:
    """``pid`` and its child processes (the extra listener processes), from /proc."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        children += [int(c) for c in task.read_text().split()]
    return [pid, *children]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("url", nargs="?", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("messages", nargs="?", type=int, default=2000)
    parser.add_argument("--profile", help="write the listener's py-spy samples (collapsed stacks) here")
    parser.add_argument("--processes", type=int, default=1, help="listener processes sharing the port")
    args = parser.parse_args()
    with database(args.url or None) as url:
        engine = make_engine(url)
        migrations.upgrade(engine)
        engine.dispose()
        with listener(url, args.processes) as (process, port):
            measure(port, 10**6, 40)  # warm-up: imports, validation caches, connection pool
            with profiled(process.pid, args.profile):
                cpu = sum(cpu_seconds(pid) for pid in process_tree(process.pid))
                per_second, resources = measure(port, 0, args.messages)
                cpu = sum(cpu_seconds(pid) for pid in process_tree(process.pid)) - cpu
        backend = make_url(url).get_backend_name()
    print(
        f"{backend}: {CONNECTIONS} connections, {args.processes} listener process(es), {args.messages} ORU^R01 (5-10 OBX): "
        f"{per_second:7.1f} messages/s ACKed and mapped, {resources:7.1f} resources/s, "
        f"listener CPU {1000 * cpu / args.messages:.1f} ms/message"
    )


if __name__ == "__main__":
    main()
