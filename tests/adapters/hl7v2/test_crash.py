"""A listener killed with SIGKILL mid-stream loses nothing it acknowledged and applies nothing twice.

``fhir-server hl7 listen`` runs as a real process on the test database (SQLite
and PostgreSQL); two senders stream ORU^R01 messages until the listener is
killed, a second listener is started, and the senders resend everything they
hold no AA for (and, as unsure senders do, some they do). Afterwards every
message is in FHIR exactly once: one inbox row, processed once, one version
of each resource.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from fhir_server.db import unit_of_work
from models import ResourceHistory, ResourceRow

from .e2e import MllpClient, msa, read, rows

MESSAGES = 120
SENDERS = 2
#: Short, so resent messages the killed listener had claimed are free again soon.
LEASE = "0.5"
OBX = "OBX|{i}|NM|2345-7^Glucose^LN||{n}.{i}|mg/dL^mg/dL^UCUM|70-105|N|||F\r"


def oru(n: int) -> bytes:
    """Message ``n``: a Patient, a DiagnosticReport and three Observations of its own."""
    return (
        f"MSH|^~\\&|LAB|HOSP|FHIR|FHIR|20240302120000+0100||ORU^R01^ORU_R01|C{n:04d}|P|2.5.1\r"
        f"PID|1||P{n}^^^HOSP&1.2.3&ISO^MR||Doe^Jane||19700101|F\r"
        f"OBR|1||F{n}^LAB|24323-8^Metabolic panel^LN|||20240302090000|||||||||||||||20240302110000|||F\r"
        + "".join(OBX.format(i=i, n=n) for i in (1, 2, 3))
    ).encode()


@contextmanager
def listener_process(database_url: str) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """``fhir-server hl7 listen`` on a free port; yields the process and its port."""
    env = {**os.environ, "FHIR_SERVER_DATABASE_URL": database_url, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "fhir_server.cli", "hl7", "listen", "--port", "0", "--lease", LEASE]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=log)
        try:
            assert process.stdout is not None
            banner = process.stdout.readline().decode()  # "HL7 v2 MLLP listener on host:port (url)"
            assert banner.startswith("HL7 v2 MLLP listener on "), banner
            yield process, int(banner.split()[5].rsplit(":", 1)[1])
        finally:
            if process.poll() is None:
                process.terminate()
            process.wait(30)
            process.stdout.close()  # type: ignore[union-attr]


def stream(port: int, numbers: list[int], acked: set[int], stop: threading.Event) -> None:
    """Send messages in order until done or the connection breaks; record each AA."""
    try:
        client = MllpClient(port)
    except OSError:
        return
    try:
        for n in numbers:
            if stop.is_set():
                return
            if msa(client.call(oru(n)))[1] == "AA":
                acked.add(n)
    except OSError:
        return  # killed mid-stream: whatever got no AA will be resent
    finally:
        client.close()


def resend_until_accepted(port: int, numbers: list[int], deadline: float) -> dict[int, bytes]:
    """Resend each message until it gets an AA (an AR means "try again later")."""
    acks: dict[int, bytes] = {}
    client = MllpClient(port)
    try:
        for n in numbers:
            while True:
                ack = client.call(oru(n))
                if msa(ack)[1] == "AA":
                    acks[n] = ack
                    break
                assert msa(ack)[1] == "AR" and time.monotonic() < deadline, ack
                time.sleep(0.1)
    finally:
        client.close()
    return acks


def test_sigkill_mid_stream_loses_no_acknowledged_message_and_applies_none_twice(
    database_url: str, factory: sessionmaker[Session]
) -> None:
    acked: set[int] = set()
    stop = threading.Event()
    share = [list(range(i, MESSAGES, SENDERS)) for i in range(SENDERS)]
    with listener_process(database_url) as (process, port):
        senders = [threading.Thread(target=stream, args=(port, part, acked, stop)) for part in share]
        for sender in senders:
            sender.start()
        deadline = time.monotonic() + 30
        while len(acked) < 10 and time.monotonic() < deadline:
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        stop.set()
        for sender in senders:
            sender.join(10)
    assert 10 <= len(acked) < MESSAGES, "the kill must land mid-stream"
    before = set(acked)
    for n in before:  # durable: already in FHIR before any restart
        [report] = [r for r in rows_of(factory, n) if r.startswith("DiagnosticReport/")]
        assert read(factory, report)["status"] == "final"

    with listener_process(database_url) as (_, port):
        # Unsure senders resend everything, acknowledged or not.
        acks = resend_until_accepted(port, list(range(MESSAGES)), time.monotonic() + 30)
    assert len(acks) == MESSAGES

    inbox = rows(factory)
    assert sorted(r.control_id for r in inbox) == [f"C{n:04d}" for n in range(MESSAGES)]  # one row each
    assert all((r.status, r.attempts, r.claimed_by) == ("done", 1, None) for r in inbox)
    assert all(r.ack == acks[int(r.control_id[1:])] for r in inbox)  # resends got the stored ACK
    for n in range(MESSAGES):
        references = rows_of(factory, n)
        assert len(references) == 5
        assert all(read(factory, r)["meta"]["versionId"] == "1" for r in references)
    with unit_of_work(factory, write=False) as session:
        resources = session.scalar(select(func.count()).select_from(ResourceRow))
        versions = session.scalar(select(func.count()).select_from(ResourceHistory))
    assert resources == versions == 5 * MESSAGES  # no duplicate resources, no extra versions


def rows_of(factory: sessionmaker[Session], n: int) -> list[str]:
    """The references inbox row of message ``n`` records as written."""
    [row] = [r for r in rows(factory) if r.control_id == f"C{n:04d}"]
    assert row.status == "done" and row.resources
    return row.resources.split("\n")
