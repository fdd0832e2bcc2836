"""``fhir-server hl7 listen --processes N``: several listener processes share one port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from models import Hl7v2Message

from .e2e import MllpClient, msa
from .test_crash import oru


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _children(pid: int) -> list[int]:
    return [int(c) for task in Path(f"/proc/{pid}/task").glob("*/children") for c in task.read_text().split()]


def test_listener_processes_share_the_port_and_every_message_is_acknowledged(
    database_url: str, factory: sessionmaker[Session]
) -> None:
    port = _free_port()
    env = {**os.environ, "FHIR_SERVER_DATABASE_URL": database_url, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "fhir_server.cli", "hl7", "listen", "--port", str(port), "--processes", "2"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().decode().startswith("HL7 v2 MLLP listener on ")
        children = _children(process.pid)
        assert len(children) == 1
        # The second process binds the port once started; every connection is served by one of them.
        acks = []
        for n in range(8):
            for _ in range(100):
                try:
                    client = MllpClient(port)
                    break
                except OSError:
                    continue
            try:
                acks.append(msa(client.call(oru(5000 + n)))[1])
            finally:
                client.close()
        assert acks == ["AA"] * 8
    finally:
        process.terminate()
        process.wait(30)
        process.stdout.close()  # type: ignore[union-attr]
    assert all(
        not Path(f"/proc/{child}").exists() or "zombie" in Path(f"/proc/{child}/status").read_text()
        for child in children
    )
    with factory() as session:
        assert session.execute(select(func.count()).select_from(Hl7v2Message)).scalar_one() == 8


def test_several_processes_need_a_fixed_port() -> None:
    command = [sys.executable, "-m", "fhir_server.cli", "hl7", "listen", "--port", "0", "--processes", "2"]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env={**os.environ, "FHIR_SERVER_DATABASE_URL": "sqlite://"},
        check=False,  # the exit status is the point of the test
    )
    assert done.returncode == 2
    assert "`--processes` above 1 needs a fixed `--port`" in done.stderr
