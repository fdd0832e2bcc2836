"""``fhir-server hl7``: errors, retry and worker, through click's runner."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session, sessionmaker

from adapters.hl7v2.cli import hl7

from .e2e import msa, rows, running
from .test_listener import ORU


@pytest.fixture
def runner(database_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("FHIR_SERVER_DATABASE_URL", database_url)
    return CliRunner()


def test_errors_lists_and_retry_reprocesses(factory: sessionmaker[Session], runner: CliRunner) -> None:
    assert runner.invoke(hl7, ["errors"]).output == "No failed messages.\n"
    with running(factory) as client:
        assert msa(client.call(ORU.replace("||182|", "||high|").encode()))[1] == "AE"
    [row] = rows(factory)
    listing = runner.invoke(hl7, ["errors"])
    assert f"#{row.pk} error ORU^R01 control id `LAB0001` from LAB at OBX[1]-5: OBX-5 value `high`" in listing.output
    # Still unmappable: retry reports it and exits non-zero.
    result = runner.invoke(hl7, ["retry", str(row.pk)])
    assert result.exit_code == 1 and f"#{row.pk} error" in result.output
    with factory() as session, session.begin():
        stored = session.get(type(row), row.pk)
        assert stored is not None
        stored.content = stored.content.replace(b"||high|", b"||182|")  # an operator fixed the data
    result = runner.invoke(hl7, ["retry", "--all"])
    assert result.exit_code == 0, result.output
    assert "Retried 1 messages; 0 still failing." in result.output
    assert rows(factory)[0].status == "done"


def test_retry_needs_ids_or_all(runner: CliRunner) -> None:
    result = runner.invoke(hl7, ["retry"])
    assert result.exit_code == 2 and "Give inbox ids or --all" in result.output


def test_worker_once_processes_pending(factory: sessionmaker[Session], runner: CliRunner) -> None:
    with running(factory, defer_mapping=True, run_worker=False) as client:
        client.call(ORU.encode())
    result = runner.invoke(hl7, ["worker", "--once"])
    assert result.exit_code == 0 and "Processed 1 messages." in result.output
