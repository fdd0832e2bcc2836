"""``fhir-server serve --certfile --keyfile [--ca-file]``: HTTPS on the development server and under gunicorn."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from tls_certificates import Certificates, make_certificates

from fhir_server.cli import main

START_TIMEOUT = 30.0


@pytest.fixture
def certificates(tmp_path: Path) -> Certificates:
    return make_certificates(tmp_path)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _serving(tmp_path: Path, ca: Path, *options: str, client: tuple[str, str] | None = None) -> Iterator[str]:
    """Run ``serve`` with ``options`` on a free port; yield its https base URL once it answers, verified with ``ca``."""
    port = _free_port()
    env = {
        **os.environ,
        "FHIR_SERVER_DATABASE_URL": f"sqlite:///{tmp_path / 'fhir.sqlite3'}",
        # An open server, explicitly: these tests are about the transport, not about tokens.
        "FHIR_SERVER_AUTH": "off",
    }
    command = [sys.executable, "-m", "fhir_server.cli", "serve", "--port", str(port), *options]
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        server = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    base = f"https://127.0.0.1:{port}/fhir"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                requests.get(f"{base}/metadata", verify=ca, cert=client, timeout=2)
                break
            except requests.ConnectionError:
                assert server.poll() is None, log.read_text()
                assert time.monotonic() < deadline, f"serve did not answer in {START_TIMEOUT} s:\n{log.read_text()}"
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)


@pytest.mark.parametrize("workers", [0, 2])
def test_serve_answers_over_https_only(tmp_path: Path, certificates: Certificates, workers: int) -> None:
    tls = ["--certfile", str(certificates.server_cert), "--keyfile", str(certificates.server_key)]
    with _serving(tmp_path, certificates.ca, *tls, "--workers", str(workers)) as base:
        # A client that connects and never starts its handshake holds up no one.
        port = int(base.split(":")[2].split("/")[0])
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            response = requests.get(f"{base}/metadata", verify=certificates.ca, timeout=5)
        assert response.status_code == 200
        assert response.json()["fhirVersion"] == "4.0.1"
        created = requests.post(
            f"{base}/Patient",
            data=b'{"resourceType":"Patient","active":true}',
            headers={"Content-Type": "application/fhir+json"},
            verify=certificates.ca,
            timeout=5,
        )
        assert created.status_code == 201
        assert created.headers["Location"].startswith(f"{base}/Patient/")  # the request's scheme: https
        with pytest.raises(requests.ConnectionError):
            requests.get(base.replace("https://", "http://") + "/metadata", timeout=5)


@pytest.mark.parametrize("workers", [0, 1])
def test_serve_with_ca_file_requires_a_client_certificate_it_signed(
    tmp_path: Path, certificates: Certificates, workers: int
) -> None:
    tls = ["--certfile", str(certificates.server_cert), "--keyfile", str(certificates.server_key)]
    client = (str(certificates.client_cert), str(certificates.client_key))
    options = [*tls, "--ca-file", str(certificates.ca), "--workers", str(workers)]
    with _serving(tmp_path, certificates.ca, *options, client=client) as base:
        response = requests.get(f"{base}/metadata", verify=certificates.ca, cert=client, timeout=5)
        assert response.status_code == 200
        for stranger in [None, (str(certificates.stranger_cert), str(certificates.stranger_key))]:
            with pytest.raises(requests.ConnectionError):
                requests.get(f"{base}/metadata", verify=certificates.ca, cert=stranger, timeout=5)


def _encrypted_key(certificates: Certificates) -> Path:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(certificates.server_key.read_bytes(), password=None)
    path = certificates.server_key.with_name("encrypted.key")
    encryption = serialization.BestAvailableEncryption(b"secret")
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption))
    return path


def test_serve_refuses_incomplete_or_unusable_tls_files(certificates: Certificates, tmp_path: Path) -> None:
    cert, key, ca = str(certificates.server_cert), str(certificates.server_key), str(certificates.ca)
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    missing = tmp_path / "missing.pem"
    cases = [
        (["--certfile", cert], 2, "`--certfile` needs `--keyfile` too"),
        (["--keyfile", key], 2, "`--keyfile` needs `--certfile` too"),
        (["--ca-file", ca], 2, "`--ca-file` checks the clients of a TLS listener"),
        (["--certfile", str(missing), "--keyfile", key], 1, f"`--certfile` {missing} cannot be read"),
        (["--certfile", cert, "--keyfile", str(missing)], 1, f"`--keyfile` {missing} cannot be read"),
        (["--certfile", str(junk), "--keyfile", key], 1, f"`--certfile` {junk} holds no PEM certificate."),
        (["--certfile", cert, "--keyfile", str(junk)], 1, f"`--keyfile` {junk} holds no PEM private key."),
        (["--certfile", key, "--keyfile", key], 1, f"`--certfile` {key} holds no PEM certificate."),
        (
            ["--certfile", cert, "--keyfile", str(certificates.client_key)],
            1,
            f"`--keyfile` {certificates.client_key} is not the key of the certificate in `--certfile` {cert}.",
        ),
        (["--certfile", cert, "--keyfile", str(_encrypted_key(certificates))], 1, "is encrypted; give an unencrypted"),
        (["--certfile", cert, "--keyfile", key, "--ca-file", str(junk)], 1, f"`--ca-file` {junk} holds no PEM"),
    ]
    for options, exit_code, message in cases:
        # The files are checked before anything starts: none of these serves.
        result = CliRunner().invoke(main, ["serve", "--port", "0", *options])
        assert (result.exit_code, message in result.output) == (exit_code, True), (options, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
