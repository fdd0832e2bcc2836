"""Every DICOM instance received (C-STORE, ``dicom import``), study published and WADO-RS retrieval is audited."""

from __future__ import annotations

import getpass
import io
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from audit_trail import ACTIVITY, audit_events, identifiers, references, requestor
from click.testing import CliRunner
from pydicom import dcmread
from pynetdicom import AE
from sqlalchemy import event

from adapters.dicom import FileStore
from adapters.dicom.cli import dicom
from adapters.dicom.headers import read_instance_header
from adapters.dicom.mapping import patient_from_header
from adapters.dicom.scp import STATUS_DOES_NOT_MATCH, STATUS_OUT_OF_RESOURCES, StorageScp
from adapters.dicom.store import InstanceStore
from fhir_server.app import create_app

from .samples import STUDY_UID, build_instance

if TYPE_CHECKING:
    from .environment import DicomEnv

STUDY = f"urn:oid:{STUDY_UID}"


@pytest.fixture
def scp(dicom_env: DicomEnv) -> Iterator[StorageScp]:
    listener = StorageScp(dicom_env.store, host="127.0.0.1", port=0)
    listener.start()
    yield listener
    listener.stop()


def send(scp: StorageScp, *instances: bytes, calling: str = "MODALITY1") -> list[int]:
    datasets = [dcmread(io.BytesIO(data)) for data in instances]
    ae = AE(ae_title=calling)
    for ds in datasets:
        ae.add_requested_context(ds.SOPClassUID, ds.file_meta.TransferSyntaxUID)
    assoc = ae.associate(*scp.address, ae_title="FHIRSRV")
    assert assoc.is_established
    try:
        return [int(assoc.send_c_store(ds).Status) for ds in datasets]
    finally:
        assoc.release()


def test_c_store_is_audited_with_calling_ae_patient_and_study(dicom_env: DicomEnv, scp: StorageScp) -> None:
    instance = build_instance()
    assert send(scp, instance, instance) == [0, 0]  # the second is a duplicate: stored once
    stored, duplicate = audit_events(dicom_env.sessions, f"subtype={ACTIVITY}|dicom-c-store")
    for audited in (stored, duplicate):
        assert (audited["type"]["code"], audited["outcome"]) == ("110107", "0")
        sender = requestor(audited)
        assert (sender["name"], sender["network"]["address"]) == ("MODALITY1", "127.0.0.1")
        assert identifiers(audited) == {STUDY}
    assert duplicate["outcomeDesc"].startswith("Already stored")
    assert dicom_env.publisher.publish_pending().instances == 1
    [patient] = dicom_env.resources("Patient")
    [study] = dicom_env.resources("ImagingStudy")
    by_patient = audit_events(dicom_env.sessions, f"patient=Patient/{patient['id']}&type=110107")
    assert [e["subtype"][0]["code"] for e in by_patient] == ["dicom-c-store", "dicom-c-store", "dicom-publish"]
    [published] = audit_events(dicom_env.sessions, f"entity=ImagingStudy/{study['id']}")
    assert published["entity"][-1]["detail"] == [{"type": "instances", "valueString": "1"}]
    assert audit_events(dicom_env.sessions, "agent-name=MODALITY1&address=127.0.0.1") == [stored, duplicate]


def test_refused_c_store_is_audited_as_rejected(dicom_env: DicomEnv, scp: StorageScp) -> None:
    assert send(scp, build_instance(StudyInstanceUID=None)) == [STATUS_DOES_NOT_MATCH]
    [refused] = audit_events(dicom_env.sessions, "outcome=4")
    assert "StudyInstanceUID (0020,000D) is missing" in refused["outcomeDesc"]
    assert requestor(refused)["name"] == "MODALITY1"


def test_c_store_the_database_fails_to_store_is_audited_as_server_failure(dicom_env: DicomEnv, scp: StorageScp) -> None:
    def fail(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO DICOM_INSTANCE"):
            raise RuntimeError("disk full")

    event.listen(dicom_env.engine, "before_cursor_execute", fail)
    try:
        assert send(scp, build_instance()) == [STATUS_OUT_OF_RESOURCES]
    finally:
        event.remove(dicom_env.engine, "before_cursor_execute", fail)
    [failed] = audit_events(dicom_env.sessions, "outcome=8")
    assert identifiers(failed) == {STUDY} and dicom_env.instances() == []


def test_dicom_import_is_audited_as_the_os_user(dicom_env: DicomEnv, tmp_path: Path) -> None:
    (tmp_path / "a.dcm").write_bytes(build_instance())
    (tmp_path / "cut.dcm").write_bytes(build_instance(SOPInstanceUID=f"{STUDY_UID}.9")[:-3])
    runner = CliRunner(
        env={
            "FHIR_SERVER_DATABASE_URL": dicom_env.url,
            "FHIR_SERVER_DICOM_STORE_DIR": str(dicom_env.files.root),
            "FHIR_SERVER_BASE_URL": "http://fhir.test/fhir",
        }
    )
    result = runner.invoke(dicom, ["import", str(tmp_path)])
    assert "Stored 1 instances" in result.stdout, result.output
    imported = audit_events(dicom_env.sessions, f"subtype={ACTIVITY}|dicom-import")
    assert [e["outcome"] for e in imported] == ["0", "4"]  # a.dcm stored, cut.dcm refused
    for audited in imported:
        user = requestor(audited)
        assert (user["name"], user["network"]) == (getpass.getuser(), {"address": socket.gethostname(), "type": "1"})
    [study] = dicom_env.resources("ImagingStudy")
    # The import publishes what it stored, and that write is audited too.
    [published] = audit_events(dicom_env.sessions, f"subtype={ACTIVITY}|dicom-publish")
    assert f"ImagingStudy/{study['id']}" in references(published)


def test_wado_rs_retrieval_is_audited_as_export(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FHIR_SERVER_DICOM_STORE_DIR", str(tmp_path / "dicom"))
    app = create_app({"database_url": database_url, "auth": "off"})
    sessions = app.extensions["fhir_server"].sessions
    try:
        InstanceStore(FileStore(tmp_path / "dicom"), sessions).receive(build_instance(), source="test")
        client = app.test_client()
        assert client.get(f"/dicomweb/studies/{STUDY_UID}").status_code == 200
        assert client.get(f"/dicomweb/studies/{STUDY_UID}/series/1.2.3").status_code == 404
        served, missing = audit_events(sessions, f"type=110106&subtype={ACTIVITY}|dicom-wado-rs")
        patient = patient_from_header(read_instance_header(build_instance()))["id"]
        for audited in (served, missing):
            assert (audited["action"], identifiers(audited)) == ("R", {STUDY})
            assert audited["entity"][0]["what"] == {"reference": f"Patient/{patient}"}
            assert requestor(audited)["network"]["address"] == "127.0.0.1"
        assert (served["outcome"], missing["outcome"]) == ("0", "4")
        assert audit_events(sessions, f"patient=Patient/{patient}&type=110106") == [served, missing]
    finally:
        app.extensions["fhir_server"].engine.dispose()
