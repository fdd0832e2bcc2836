"""The report every importer ends with: counts per reason, first examples, exit status."""

from __future__ import annotations

import pytest

from fhir_server.import_report import EXAMPLES, ImportReport


def test_summary_counts_reasons_most_frequent_first_and_keeps_the_first_examples() -> None:
    report = ImportReport(unit="row", stored=4812, files=40)
    for line in range(10, 15):
        report.add("set-a/132539.txt", f"line {line}", "empty parameter name", f"Line {line}: empty.")
    report.add("set-a/132540.txt", "line 3", "value not a number", "Line 3: value `x` is not a number.")
    report.add("set-a/132541.txt", None, "record not readable", "no RecordID")
    assert report.skipped == 7
    assert report.summary() == (
        "imported 4,812 resources from 40 files; skipped 7 rows: "
        "empty parameter name (5; first: set-a/132539.txt line 10), "
        "value not a number (1; first: set-a/132540.txt line 3), record not readable (1; first: set-a/132541.txt)"
    )
    details = report.lines()[1:]
    assert len(details) == EXAMPLES + 2
    assert details[0] == "  skipped set-a/132539.txt line 10: Line 10: empty."
    assert details[-1] == "  skipped set-a/132541.txt: no RecordID"


@pytest.mark.parametrize(
    ("stored", "skipped", "strict", "code"),
    [(5, 0, False, 0), (5, 0, True, 0), (5, 1, False, 0), (5, 1, True, 1), (0, 1, False, 1), (0, 0, False, 0)],
)
def test_exit_status(stored: int, skipped: int, strict: bool, code: int) -> None:
    report = ImportReport(stored=stored, files=1)
    for _ in range(skipped):
        report.add("f", "line 1", "bad", "Bad.")
    assert report.exit_code(strict=strict) == code
    assert report.summary().startswith(f"imported {stored} resource")


def test_a_clean_run_says_it_skipped_nothing() -> None:
    assert ImportReport(unit="message", stored_unit="message", stored=1, files=1).summary() == (
        "imported 1 message from 1 file; skipped nothing"
    )
