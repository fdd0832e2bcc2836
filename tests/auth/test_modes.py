"""Authorization modes: SMART unless ``off`` is set explicitly, which warns at every start and stays on loopback."""

from __future__ import annotations

import logging
import subprocess

import pytest
import requests
from auth.live import serve

from fhir_server.app import create_app
from fhir_server.config import load_settings


def test_smart_is_the_default(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings(environ={}).auth == "smart"
    monkeypatch.delenv("FHIR_SERVER_AUTH", raising=False)
    app = create_app({"database_url": sqlite_url, "audit_drain_interval": 0})
    assert app.extensions["fhir_server"].auth is not None
    assert app.test_client().get("/fhir/Patient").status_code == 401


def test_off_warns_at_every_start(caplog: pytest.LogCaptureFixture, sqlite_url: str) -> None:
    for _ in range(2):
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            create_app({"database_url": sqlite_url, "auth": "off"})
        assert any("FHIR_SERVER_AUTH=off" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)


def test_an_unknown_mode_is_refused_naming_the_variable() -> None:
    with pytest.raises(Exception, match="FHIR_SERVER_AUTH"):
        load_settings(environ={"FHIR_SERVER_AUTH": "none"})


def test_an_open_server_listens_on_loopback_only_and_says_so(sqlite_url: str) -> None:
    with serve(sqlite_url, FHIR_SERVER_AUTH="off") as live:
        assert requests.get(f"{live.base}/fhir/Patient", timeout=5).status_code == 200
        port = live.base.rpartition(":")[2]
        listening = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True, check=True)
        bound = [line.split()[3] for line in listening.stdout.splitlines()]
        # Every socket on the port is bound to a loopback address, none to 0.0.0.0 or a public one.
        assert bound and all(address.startswith(("127.", "[::1]")) for address in bound), bound
        printed = live.printed()
    assert f"FHIR server on {live.base}/fhir" in printed
    assert "FHIR_SERVER_AUTH=off: this server answers every request without a token" in printed
