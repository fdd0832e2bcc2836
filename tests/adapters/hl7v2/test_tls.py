"""MLLP over TLS: ``Listener(ssl_context=...)`` and ``fhir-server hl7 listen --certfile --keyfile [--ca-file]``."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session, sessionmaker
from tls_certificates import Certificates, make_certificates

from adapters.hl7v2.cli import hl7
from adapters.hl7v2.listener import Listener
from fhir_server.tls import TlsFiles, server_context

from .e2e import TIMEOUT, MllpClient, msa, read, rows
from .test_crash import oru
from .test_listener import ORU


class TlsMllpClient(MllpClient):
    """The blocking MLLP client of the other tests, on a TLS socket that verifies the server against ``ca``."""

    def __init__(self, port: int, ca: Path, client: tuple[Path, Path] | None = None) -> None:
        super().__init__(port)
        context = ssl.create_default_context(cafile=ca)
        if client is not None:
            context.load_cert_chain(*client)
        self.sock = context.wrap_socket(self.sock, server_hostname="localhost")


@pytest.fixture
def certificates(tmp_path: Path) -> Certificates:
    return make_certificates(tmp_path)


@contextmanager
def _listening(factory: sessionmaker[Session], files: TlsFiles, **options: Any) -> Iterator[int]:
    listener = Listener(factory, port=0, ssl_context=server_context(files), **options)
    port = listener.start()
    try:
        yield port
    finally:
        listener.stop()


def test_oru_over_tls_is_stored_then_acknowledged(factory: sessionmaker[Session], certificates: Certificates) -> None:
    files = TlsFiles(certificates.server_cert, certificates.server_key)
    with _listening(factory, files) as port, closing(TlsMllpClient(port, certificates.ca)) as client:
        assert msa(client.call(ORU.encode()))[1:3] == ["AA", "LAB0001"]
    [row] = rows(factory)
    assert (row.status, row.content) == ("done", ORU.encode())
    report = next(r for r in (row.resources or "").split("\n") if r.startswith("DiagnosticReport/"))
    assert read(factory, report)["status"] == "final"


def test_plaintext_clients_get_nothing_and_do_not_hold_up_tls_clients(
    factory: sessionmaker[Session], certificates: Certificates
) -> None:
    files = TlsFiles(certificates.server_cert, certificates.server_key)
    with _listening(factory, files) as port:
        # One plaintext peer connects and says nothing; TLS clients are served meanwhile.
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT):
            with closing(MllpClient(port)) as plaintext, pytest.raises(ConnectionError):
                plaintext.call(oru(1))  # no ACK: only a TLS alert, then the connection is closed
            assert rows(factory) == []
            with closing(TlsMllpClient(port, certificates.ca)) as client:
                assert msa(client.call(oru(2)))[1] == "AA"
    assert [row.control_id for row in rows(factory)] == ["C0002"]


def test_ca_file_requires_a_client_certificate_it_signed(
    factory: sessionmaker[Session], certificates: Certificates
) -> None:
    files = TlsFiles(certificates.server_cert, certificates.server_key, certificates.ca)
    with _listening(factory, files) as port:
        for stranger in [None, (certificates.stranger_cert, certificates.stranger_key)]:
            # TLS 1.3 clients finish their side of the handshake first; the refusal arrives on the first read.
            with closing(TlsMllpClient(port, certificates.ca, stranger)) as refused, pytest.raises(OSError):
                refused.call(oru(1))
        client_files = (certificates.client_cert, certificates.client_key)
        with closing(TlsMllpClient(port, certificates.ca, client_files)) as client:
            assert msa(client.call(oru(2)))[1] == "AA"
    assert [row.control_id for row in rows(factory)] == ["C0002"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_listen_processes_all_speak_tls(database_url: str, certificates: Certificates) -> None:
    port = _free_port()
    env = {**os.environ, "FHIR_SERVER_DATABASE_URL": database_url, "PYTHONUNBUFFERED": "1"}
    tls = ["--certfile", str(certificates.server_cert), "--keyfile", str(certificates.server_key)]
    command = [sys.executable, "-m", "fhir_server.cli", "hl7", "listen", "--port", str(port), "--processes", "2", *tls]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().decode().startswith(f"HL7 v2 MLLP listener on 127.0.0.1:{port} over TLS")
        # The kernel spreads connections over both processes once the second has bound the port.
        acks = []
        for n in range(6):
            with closing(TlsMllpClient(port, certificates.ca)) as client:
                acks.append(msa(client.call(oru(n)))[1])
        assert acks == ["AA"] * 6
    finally:
        process.terminate()
        process.wait(30)
        if process.stdout is not None:
            process.stdout.close()


@pytest.mark.parametrize(
    ("options", "exit_code", "message"),
    [
        (["--certfile", "server.crt"], 2, "`--certfile` needs `--keyfile` too"),
        (["--certfile", "server.crt", "--keyfile", "missing.key"], 1, "`--keyfile` missing.key cannot be read"),
        (
            ["--certfile", "server.key", "--keyfile", "server.key"],
            1,
            "`--certfile` server.key holds no PEM certificate.",
        ),
    ],
)
def test_listen_refuses_incomplete_or_unusable_tls_files(
    certificates: Certificates, monkeypatch: pytest.MonkeyPatch, options: list[str], exit_code: int, message: str
) -> None:
    monkeypatch.chdir(certificates.ca.parent)
    result = CliRunner().invoke(hl7, ["listen", "--port", "0", *options])
    assert (result.exit_code, message in result.output) == (exit_code, True), result.output
