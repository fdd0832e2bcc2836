"""DICOM over TLS: ``StorageScp(ssl_context=...)`` and ``dicom listen --certfile --keyfile [--ca-file]``.

dcmtk's ``echoscu`` and ``storescu`` (built with OpenSSL) are the real peer, skipped
where dcmtk is not installed; pynetdicom's own SCU covers the same ground everywhere.
"""

from __future__ import annotations

import gc
import io
import os
import shutil
import socket
import ssl
import subprocess
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner
from pydicom import dcmread
from pynetdicom import AE
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]
from tls_certificates import Certificates, make_certificates

from adapters.dicom.cli import dicom
from adapters.dicom.scp import StorageScp
from fhir_server.tls import TlsFiles, server_context

from .samples import SOP_UID, build_instance

if TYPE_CHECKING:
    from .environment import DicomEnv

needs_dcmtk = pytest.mark.skipif(
    shutil.which("storescu") is None or shutil.which("echoscu") is None,
    reason="dcmtk is not installed (apt-get install dcmtk): DICOM TLS with echoscu/storescu is not tested.",
)
#: Bounds every dcmtk run: connection and association timeouts in seconds.
DCMTK_TIMEOUTS = ["-to", "5", "-ta", "5"]


@pytest.fixture
def certificates(tmp_path: Path) -> Certificates:
    return make_certificates(tmp_path)


@contextmanager
def _listening(env: DicomEnv, files: TlsFiles) -> Iterator[tuple[str, int]]:
    scp = StorageScp(env.store, host="127.0.0.1", port=0, ssl_context=server_context(files))
    scp.start()
    try:
        yield scp.address
    finally:
        scp.stop()


def _dcmtk(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    command = [tool, "-aet", "DCMTK", "-aec", "FHIRSRV", *DCMTK_TIMEOUTS, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)


@needs_dcmtk
def test_dcmtk_echoes_and_stores_over_tls_and_plain_dicom_is_refused(
    dicom_env: DicomEnv, certificates: Certificates, tmp_path: Path
) -> None:
    instance = tmp_path / "instance.dcm"
    instance.write_bytes(build_instance())
    # +tla: TLS without a client certificate; +cf: the CA the server's certificate must chain to.
    tls = ["+tla", "+cf", str(certificates.ca)]
    with _listening(dicom_env, TlsFiles(certificates.server_cert, certificates.server_key)) as (host, port):
        plain = _dcmtk("echoscu", host, str(port))
        assert plain.returncode != 0 and "Association Request Failed" in plain.stderr, plain.stderr
        wrong_ca = _dcmtk("echoscu", "+tla", "+cf", str(certificates.stranger_cert), host, str(port))
        assert wrong_ca.returncode != 0 and "certificate verify failed" in wrong_ca.stderr, wrong_ca.stderr
        echo = _dcmtk("echoscu", *tls, host, str(port))
        assert echo.returncode == 0, echo.stderr
        store = _dcmtk("storescu", *tls, host, str(port), str(instance))
        assert store.returncode == 0, store.stderr
    [row] = dicom_env.instances()
    assert (row.sop_instance_uid, row.source) == (SOP_UID, "dicom:DCMTK")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@needs_dcmtk
def test_dicom_listen_with_ca_file_accepts_only_peers_with_a_certificate_it_signed(
    dicom_env: DicomEnv, certificates: Certificates
) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "FHIR_SERVER_DATABASE_URL": dicom_env.url,
        "FHIR_SERVER_DICOM_STORE_DIR": str(dicom_env.files.root),
        "PYTHONUNBUFFERED": "1",
    }
    tls = ["--certfile", str(certificates.server_cert), "--keyfile", str(certificates.server_key)]
    command = [sys.executable, "-m", "fhir_server.cli", "dicom", "listen", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(
        [*command, *tls, "--ca-file", str(certificates.ca)], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    try:
        assert process.stdout is not None
        started = process.stdout.readline().decode()
        assert f"on 127.0.0.1:{port} over TLS, client certificates required" in started, started
        ca = ["+cf", str(certificates.ca)]
        anonymous = _dcmtk("echoscu", "+tla", *ca, "127.0.0.1", str(port))
        assert anonymous.returncode != 0, anonymous.stderr
        stranger = ["+tls", str(certificates.stranger_key), str(certificates.stranger_cert)]
        assert _dcmtk("echoscu", *stranger, *ca, "127.0.0.1", str(port)).returncode != 0
        client = ["+tls", str(certificates.client_key), str(certificates.client_cert)]
        echo = _dcmtk("echoscu", *client, *ca, "127.0.0.1", str(port))
        assert echo.returncode == 0, echo.stderr
    finally:
        process.terminate()
        process.wait(30)
        if process.stdout is not None:
            process.stdout.close()


def test_pynetdicom_scu_over_tls_and_plain_dicom_is_refused(dicom_env: DicomEnv, certificates: Certificates) -> None:
    dataset = dcmread(io.BytesIO(build_instance()))
    client = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=certificates.ca)
    ae = AE(ae_title="TESTSCU")
    ae.add_requested_context(Verification)
    ae.add_requested_context(dataset.SOPClassUID, dataset.file_meta.TransferSyntaxUID)
    # Bounded: pynetdicom's connection timeout (TCP connect and TLS handshake) is unlimited by default.
    ae.acse_timeout = ae.network_timeout = ae.connection_timeout = 5
    with _listening(dicom_env, TlsFiles(certificates.server_cert, certificates.server_key)) as (host, port):
        with warnings.catch_warnings():
            # pynetdicom's requestor skips closing its socket when shutdown() fails, as it does on a
            # connection the peer has already dropped: its ResourceWarning is pynetdicom's, not ours.
            warnings.simplefilter("ignore", ResourceWarning)
            refused = ae.associate(host, port, ae_title="FHIRSRV")
            assert not refused.is_established
            del refused
            gc.collect()
        # A peer that connects and says nothing holds up no one: the handshake runs on its own thread.
        with socket.create_connection((host, port), timeout=5):
            assoc = ae.associate(host, port, ae_title="FHIRSRV", tls_args=(client, "localhost"))
        assert assoc.is_established
        try:
            assert assoc.send_c_echo().Status == 0x0000
            assert assoc.send_c_store(dataset).Status == 0x0000
        finally:
            assoc.release()
    assert [row.source for row in dicom_env.instances()] == ["dicom:TESTSCU"]


def test_listen_refuses_incomplete_or_unusable_tls_files(certificates: Certificates) -> None:
    cert, key = str(certificates.server_cert), str(certificates.server_key)
    alone = CliRunner().invoke(dicom, ["listen", "--port", "0", "--keyfile", key])
    assert alone.exit_code == 2 and "`--keyfile` needs `--certfile` too" in alone.output, alone.output
    bad_ca = CliRunner().invoke(
        dicom, ["listen", "--port", "0", "--certfile", cert, "--keyfile", key, "--ca-file", key]
    )
    assert bad_ca.exit_code == 1 and f"`--ca-file` {key} holds no PEM certificate." in bad_ca.output, bad_ca.output
