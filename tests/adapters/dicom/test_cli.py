"""Tests for ``fhir-server dicom import`` (and the ``listen`` options), invoked with click's runner."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner

from adapters.dicom.cli import dicom

from .samples import build_instance, bundled

if TYPE_CHECKING:
    from pathlib import Path

    from .environment import DicomEnv


@pytest.fixture
def runner(dicom_env: DicomEnv) -> CliRunner:
    return CliRunner(
        env={
            "FHIR_SERVER_DATABASE_URL": dicom_env.url,
            "FHIR_SERVER_DICOM_STORE_DIR": str(dicom_env.files.root),
            "FHIR_SERVER_BASE_URL": "http://fhir.test/fhir",
        }
    )


def test_import_folder_with_dicomdir_broken_files_and_duplicates(
    dicom_env: DicomEnv, runner: CliRunner, tmp_path: Path
) -> None:
    media = tmp_path / "media"
    tests = bundled("CT_small.dcm").parent / "dicomdirtests"
    # A medium: its DICOMDIR index plus 17 MR images in 3 studies, in nested folders.
    shutil.copytree(tests / "98892003", media / "98892003")
    shutil.copy(tests / "TINY_ALPHA" / "DICOMDIR", media / "DICOMDIR")
    shutil.copy(bundled("CT_small.dcm"), media / "ct.dcm")
    shutil.copy(bundled("CT_small.dcm"), media / "ct-copy.dcm")
    (media / "notes.txt").write_text("not an image")
    (media / "cut.dcm").write_bytes(build_instance()[:-3])
    result = runner.invoke(dicom, ["import", str(media)])
    instances = sum(1 for p in (media / "98892003").rglob("*") if p.is_file())
    assert result.exit_code == 0, result.output
    assert (
        f"Stored {instances + 1} instances, 1 duplicates, 2 failed, 1 DICOMDIR skipped; published 4 studies "
        f"({instances + 1} instances)."
    ) in result.stdout
    assert (
        f"imported {instances + 2} instances from {instances + 5} files; skipped 2 files: "
        f"truncated (1; first: {media / 'cut.dcm'}), not a DICOM file (1; first: {media / 'notes.txt'})"
    ) in result.stderr
    assert f"skipped {media / 'notes.txt'}: The input is not a DICOM file:" in result.stderr
    assert f"skipped {media / 'cut.dcm'}: Element PixelData (7FE0,0010) declares a 4-byte value" in result.stderr
    assert len(dicom_env.instances()) == instances + 1
    assert len(dicom_env.resources("ImagingStudy")) == 4
    assert dicom_env.quarantined() == []
    again = runner.invoke(dicom, ["import", str(media / "ct.dcm")])
    assert again.exit_code == 0
    assert "Stored 0 instances, 1 duplicates, 0 failed" in again.stdout
    # Again with --strict: the same two files are skipped, nothing is stored twice.
    strict = runner.invoke(dicom, ["import", "--strict", str(media)])
    assert strict.exit_code == 1
    assert f"Stored 0 instances, {instances + 2} duplicates, 2 failed" in strict.stdout
    assert "skipped 2 files: truncated (1; " in strict.stderr
    assert len(dicom_env.instances()) == instances + 1
    assert len(dicom_env.resources("ImagingStudy")) == 4


def test_import_force_rewraps_a_bare_data_set(dicom_env: DicomEnv, runner: CliRunner) -> None:
    bare = bundled("ExplVR_LitEndNoMeta.dcm")
    refused = runner.invoke(dicom, ["import", str(bare)])
    assert refused.exit_code == 1
    assert f"skipped {bare}: The input is not a DICOM file" in refused.stderr
    assert f"imported 0 instances from 1 file; skipped 1 file: not a DICOM file (1; first: {bare})" in refused.stderr
    forced = runner.invoke(dicom, ["import", "--force", str(bare)])
    assert forced.exit_code == 0, forced.output
    [row] = dicom_env.instances()
    assert dicom_env.files.path(row.sha256).read_bytes()[128:132] == b"DICM"


def test_import_of_a_missing_path_names_it(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(dicom, ["import", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert "nowhere' does not exist" in result.output


def test_listen_refuses_a_bad_ae_title(runner: CliRunner) -> None:
    result = runner.invoke(dicom, ["listen", "--ae-title", "A" * 17])
    assert result.exit_code == 2
    assert f"`{'A' * 17}` is not an AE title (1 to 16 characters, no backslash)." in result.output
