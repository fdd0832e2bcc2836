"""``fhir-server load`` keeps going past unusable lines, entries and files, and reports them (both backends)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from fhir_server.cli import main

from testdata import count_rows


def _patient(pid: str, **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": pid, **extra}


def _put(resource: dict[str, Any]) -> dict[str, Any]:
    return {"resource": resource, "request": {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"}}


def _bundle(kind: str, *entries: dict[str, Any]) -> bytes:
    return orjson.dumps({"resourceType": "Bundle", "type": kind, "entry": list(entries)})


@pytest.fixture
def folder(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FHIR_SERVER_DATABASE_URL", database_url)
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.ndjson").write_bytes(
        b"\n".join(
            [
                orjson.dumps(_patient("n1", gender="female")),  # line 1
                b'{"resourceType": "Patient", "id": ',  # line 2: cut off
                orjson.dumps(_patient("n3", birthDate="1999-99-99")),  # line 3: fails validation
                b'{"name": "no type"}',  # line 4
                b"",  # line 5: blank, ignored
                orjson.dumps(_patient("n6")),  # line 6
            ]
        )
    )
    (folder / "b-collection.json").write_bytes(
        _bundle("collection", {"resource": _patient("c1")}, {"fullUrl": "urn:x"}, {"resource": _patient("c3")})
    )
    (folder / "c-transaction-bad.json").write_bytes(
        _bundle("transaction", _put(_patient("t1")), _put(_patient("t2", birthDate="someday")))
    )
    (folder / "d-transaction-good.json").write_bytes(_bundle("transaction", _put(_patient("t3"))))
    (folder / "e-broken.json").write_bytes(b"{not json")
    return folder


def test_load_skips_bad_lines_entries_and_files_and_summarises_them(folder: Path, database_url: str) -> None:
    result = CliRunner().invoke(main, ["load", str(folder)])
    assert result.exit_code == 0, result.output
    assert "Stored 5 resources from 5 files" in result.stdout
    ndjson, collection, transaction = (
        folder / "a.ndjson",
        folder / "b-collection.json",
        folder / "c-transaction-bad.json",
    )
    assert "imported 5 resources from 5 files; skipped 6 items: not valid JSON (2; first: " in result.stderr
    for reason, where in [
        ("not valid JSON (2", f"{ndjson} line 2"),
        ("invalid resource (1", f"{ndjson} line 3"),
        ("not a FHIR resource (1", f"{ndjson} line 4"),
        ("entry without a resource (1", f"{collection} entry 1"),
        ("transaction failed (1", f"{transaction} entry 1"),
    ]:
        assert f"{reason}; first: {where})" in result.stderr
    assert f"skipped {ndjson} line 3: " in result.stderr and "1999-99-99" in result.stderr
    assert f"skipped {transaction} entry 1: Bundle entry 1 (`PUT Patient/t2`) failed: " in result.stderr
    assert f"skipped {folder / 'e-broken.json'}: not valid JSON" in result.stderr
    assert count_rows(database_url, "SELECT count(*) FROM resource") == 5
    # The failed transaction is the unit: its good entry t1 is not stored either.
    assert (
        count_rows(database_url, "SELECT count(*) FROM resource WHERE fhir_id IN ('n1', 'n6', 'c1', 'c3', 't3')") == 5
    )
    assert count_rows(database_url, "SELECT count(*) FROM resource WHERE fhir_id = 't1'") == 0


def test_load_strict_exits_1_and_a_second_run_stores_no_duplicates(folder: Path, database_url: str) -> None:
    strict = CliRunner().invoke(main, ["load", "--strict", str(folder)])
    assert strict.exit_code == 1
    assert "skipped 6 items" in strict.stderr
    resources = "SELECT count(*) FROM resource"
    versions = "SELECT count(*) FROM resource_history"
    counts = count_rows(database_url, resources), count_rows(database_url, versions)
    again = CliRunner().invoke(main, ["load", str(folder)])
    assert again.exit_code == 0, again.output
    assert "imported 5 resources from 5 files; skipped 6 items" in again.stderr
    # Nothing duplicated; lines and collection entries keep their version, and only the
    # transaction's `PUT Patient/t3` adds one, as the same PUT over HTTP would.
    assert (count_rows(database_url, resources), count_rows(database_url, versions)) == (counts[0], counts[1] + 1)


def test_load_where_nothing_is_usable_exits_1(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FHIR_SERVER_DATABASE_URL", database_url)
    (tmp_path / "x.ndjson").write_bytes(b"nope\n")
    result = CliRunner().invoke(main, ["load", str(tmp_path / "x.ndjson")])
    assert result.exit_code == 1
    assert (
        f"imported 0 resources from 1 file; skipped 1 item: not valid JSON (1; first: {tmp_path / 'x.ndjson'} line 1)"
        in result.stderr
    )
