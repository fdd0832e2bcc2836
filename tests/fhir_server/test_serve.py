"""``fhir-server serve`` on the embedded default: migrates itself and answers over real HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import Engine


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("workers", [0, 2])
def test_serve_migrates_sqlite_and_serves(tmp_path: Path, workers: int) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "FHIR_SERVER_DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.sqlite3'}",
        "FHIR_SERVER_AUTH": "off",
    }
    command = [sys.executable, "-m", "fhir_server.cli", "serve", "--port", str(port), "--workers", str(workers)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/fhir/metadata", timeout=2) as response:
                    statement = json.load(response)
                break
            except OSError:
                assert server.poll() is None, server.stdout.read().decode() if server.stdout else ""
                assert time.monotonic() < deadline, "server did not start in 30 s"
                time.sleep(0.2)
        assert statement["fhirVersion"] == "4.0.1"
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/fhir/Patient",
            data=b'{"resourceType":"Patient","active":true}',
            headers={"Content-Type": "application/fhir+json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 201
            assert response.headers["Location"].startswith(f"http://127.0.0.1:{port}/fhir/Patient/")
    finally:
        server.terminate()
        server.wait(10)
        if server.stdout:
            server.stdout.close()


def test_prepare_process_loads_definitions_and_freezes_them() -> None:
    import gc

    from fhir_server.warmup import prepare_process

    before = gc.get_freeze_count()
    prepare_process()
    try:
        # The definitions, registry and extraction plans are now out of the collector's way.
        assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()


def test_prepare_process_loads_the_stored_custom_search_parameters(engine: Engine) -> None:
    import gc

    from fhir_server.db import make_engine, make_session_factory, unit_of_work
    from fhir_server.repository import SqlRepository, registry_sync
    from fhir_server.warmup import prepare_process

    with unit_of_work(make_session_factory(engine)) as session:
        SqlRepository(session).update("SearchParameter", "marital", {
            "resourceType": "SearchParameter", "id": "marital", "url": "http://example.org/SearchParameter/marital",
            "name": "Marital", "status": "active", "description": "Marital status.", "code": "marital",
            "base": ["Patient"], "type": "token", "expression": "Patient.maritalStatus",
        })  # fmt: skip
    # A new process's engine: nothing is loaded for it yet.
    started_fresh = make_engine(engine.url.render_as_string(hide_password=False))
    try:
        prepare_process(started_fresh)
        try:
            assert registry_sync.custom_parameters(started_fresh).registry.get("Patient", "marital") is not None
        finally:
            gc.unfreeze()
    finally:
        started_fresh.dispose()
