"""Tests for publishing stored instances as ImagingStudy, Patient and Endpoint."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import update

from adapters.dicom import deterministic_id
from adapters.dicom.publisher import endpoint_resource
from fhir_server.db import unit_of_work
from fhir_server.repository import SqlRepository
from models import DicomInstance

from .environment import DICOMWEB
from .samples import STUDY_UID, build_instance

if TYPE_CHECKING:
    from .environment import DicomEnv

STUDY_ID = deterministic_id("ImagingStudy", STUDY_UID)


def _instance(series: int, number: int, **attributes: object) -> bytes:
    return build_instance(
        SeriesInstanceUID=f"{STUDY_UID}.{series}",
        SOPInstanceUID=f"{STUDY_UID}.{series}.{number}",
        SeriesNumber=str(series),
        InstanceNumber=str(number),
        **attributes,
    )


def _version(env: DicomEnv, resource_type: str, resource_id: str) -> int:
    with unit_of_work(env.sessions, write=False) as session:
        return SqlRepository(session).read(resource_type, resource_id).version_id


def test_study_is_recomputed_from_all_instances(dicom_env: DicomEnv) -> None:
    for series, number in [(2, 1), (1, 2)]:
        dicom_env.store.receive(_instance(series, number), source="x")
    first = dicom_env.publisher.publish_pending()
    assert (first.studies, first.instances, first.failures) == (1, 2, [])
    for series, number in [(1, 1), (2, 2), (2, 3)]:
        dicom_env.store.receive(_instance(series, number), source="x")
    assert dicom_env.publisher.publish_pending().instances == 3
    [study] = dicom_env.resources("ImagingStudy")
    assert study["id"] == STUDY_ID
    assert study["meta"]["versionId"] == "2"
    assert (study["numberOfSeries"], study["numberOfInstances"]) == (2, 5)
    assert [(s["number"], s["numberOfInstances"]) for s in study["series"]] == [(1, 2), (2, 3)]
    assert [i["number"] for i in study["series"][0]["instance"]] == [1, 2]
    [patient] = dicom_env.resources("Patient")
    assert study["subject"] == {"reference": f"Patient/{patient['id']}"}
    assert patient["identifier"][0]["value"] == "PID-1"
    [endpoint] = dicom_env.resources("Endpoint")
    assert study["endpoint"] == [{"reference": f"Endpoint/{endpoint['id']}"}]
    assert endpoint["address"] == DICOMWEB
    assert endpoint["connectionType"]["code"] == "dicom-wado-rs"
    assert all(row.published and row.published_at is not None for row in dicom_env.instances())
    assert dicom_env.publisher.pending_studies() == []


def test_unchanged_study_gets_no_new_version(dicom_env: DicomEnv) -> None:
    dicom_env.store.receive(_instance(1, 1), source="x")
    dicom_env.publisher.publish_pending()
    with unit_of_work(dicom_env.sessions) as session:
        session.execute(update(DicomInstance).values(published=False))
    assert dicom_env.publisher.publish_pending().instances == 1
    assert _version(dicom_env, "ImagingStudy", STUDY_ID) == 1


def test_existing_patient_is_kept_and_endpoint_refreshed(dicom_env: DicomEnv) -> None:
    dicom_env.store.receive(_instance(1, 1), source="x")
    dicom_env.publisher.publish_pending()
    [patient] = dicom_env.resources("Patient")
    dicom_env.store.receive(_instance(1, 2, PatientName="Changed^Name"), source="x")
    moved = type(dicom_env.publisher)(dicom_env.sessions, dicomweb_base_url="https://pacs.test/dicomweb")
    moved.publish_pending()
    assert _version(dicom_env, "Patient", patient["id"]) == 1
    endpoint_id = endpoint_resource("https://pacs.test/dicomweb")["id"]
    assert _version(dicom_env, "Endpoint", endpoint_id) == 1
    [study] = dicom_env.resources("ImagingStudy")
    assert study["endpoint"] == [{"reference": f"Endpoint/{endpoint_id}"}]


def test_failure_is_recorded_and_retried_on_request(dicom_env: DicomEnv) -> None:
    dicom_env.store.receive(_instance(1, 1), source="x")
    with unit_of_work(dicom_env.sessions) as session:
        session.execute(update(DicomInstance).values(header=b"{}"))
    summary = dicom_env.publisher.publish_pending()
    assert summary.studies == 0
    [message] = summary.failures
    assert message.startswith(f"Study `{STUDY_UID}` could not be published: A stored DICOM header lacks")
    [row] = dicom_env.instances()
    assert (row.published, row.publish_error) == (False, message)
    # A failed study is not retried on every pass, only when asked (at start-up).
    assert dicom_env.publisher.pending_studies() == []
    assert dicom_env.publisher.pending_studies(include_failed=True) == [STUDY_UID]
