"""Tests for the FHIR mapping (``adapters.dicom.mapping``)."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class

from adapters.dicom import (
    InstanceHeader,
    Issuer,
    PersonName,
    deterministic_id,
    identifier_system,
    imaging_study_from_instances,
    patient_from_header,
    read_instance_header,
)
from adapters.dicom.mapping import LOCAL_ISSUER_SYSTEM_PREFIX, NO_ISSUER_SYSTEM

from .samples import bundled

STUDY = "1.2.826.0.1.3680043.10.543.7"
CT_CLASS = "1.2.840.10008.5.1.4.1.1.2"
SR_CLASS = "1.2.840.10008.5.1.4.1.1.88.33"
BASE = InstanceHeader(
    study_instance_uid=STUDY,
    series_instance_uid=f"{STUDY}.1",
    sop_instance_uid=f"{STUDY}.1.1",
    sop_class_uid=CT_CLASS,
    transfer_syntax_uid="1.2.840.10008.1.2.1",
    patient_id="PID-1",
    patient_name=PersonName(family="Doe", given=("Jane",)),
    accession_number="ACC-1",
    study_date="2024-03-05",
    study_time="09:15:00.25",
    timezone_offset="+01:00",
    study_description="CT chest",
    referring_physician_name=PersonName(family="Watson", given=("John",), prefix=("Dr.",)),
    modality="CT",
)


def header(
    series: int | None, instance: int | None, *, series_uid: str | None = None, **changes: Any
) -> InstanceHeader:
    """Return an instance of series *series* (UID defaults from its number) numbered *instance*."""
    series_uid = series_uid or f"{STUDY}.{series}"
    return replace(
        BASE,
        series_instance_uid=series_uid,
        sop_instance_uid=f"{series_uid}.{instance if instance is not None else 'x'}",
        series_number=series,
        instance_number=instance,
        **changes,
    )


def validate(resource: dict[str, Any]) -> None:
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    assert re.fullmatch(r"[A-Za-z0-9\-.]{1,64}", resource["id"])


def study_of(instances: list[InstanceHeader], **options: Any) -> dict[str, Any]:
    study = imaging_study_from_instances(instances, patient_reference="Patient/p1", **options)
    validate(study)
    return study


def test_series_and_instances_are_sorted_deduplicated_and_counted() -> None:
    instances = [
        header(3, 2, modality="SR", sop_class_uid=SR_CLASS),
        header(1, 10),
        header(None, 1, series_uid=f"{STUDY}.99", modality="MR"),
        header(1, 2),
        header(3, 1, modality="SR", sop_class_uid=SR_CLASS),
        header(1, 10),  # duplicate SOP Instance UID
        header(1, None),
        header(2, 1, series_uid=f"{STUDY}.2b"),
        header(2, 1, series_uid=f"{STUDY}.2a"),  # same series number: UID decides
    ]
    study = study_of(instances, endpoint_reference="Endpoint/wado")
    assert [(s["uid"], s.get("number")) for s in study["series"]] == [
        (f"{STUDY}.1", 1),
        (f"{STUDY}.2a", 2),
        (f"{STUDY}.2b", 2),
        (f"{STUDY}.3", 3),
        (f"{STUDY}.99", None),
    ]
    first = study["series"][0]
    assert [i.get("number") for i in first["instance"]] == [2, 10, None]
    assert first["numberOfInstances"] == 3
    assert (study["numberOfSeries"], study["numberOfInstances"]) == (5, 8)
    assert [m["code"] for m in study["modality"]] == ["CT", "SR", "MR"]
    assert study["series"][3]["instance"][0]["sopClass"] == {
        "system": "urn:ietf:rfc:3986",
        "code": f"urn:oid:{SR_CLASS}",
    }
    assert study["endpoint"] == [{"reference": "Endpoint/wado"}]
    assert study["subject"] == {"reference": "Patient/p1"}


def test_study_level_elements() -> None:
    issuer = Issuer(universal_id="2.16.840.1.113883.3.72", universal_id_type="ISO")
    study = study_of([header(1, 1, accession_number_issuer=issuer)])
    assert study["id"] == deterministic_id("ImagingStudy", STUDY)
    assert study["status"] == "available"
    assert study["identifier"] == [
        {"use": "official", "system": "urn:dicom:uid", "value": f"urn:oid:{STUDY}"},
        {
            "use": "usual",
            "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "ACSN"}]},
            "system": "urn:oid:2.16.840.1.113883.3.72",
            "value": "ACC-1",
        },
    ]
    assert study["started"] == "2024-03-05T09:15:00.25+01:00"
    assert study["referrer"] == {"display": "Dr. John Watson"}
    assert study["description"] == "CT chest"
    assert study["modality"] == [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "CT"}]
    assert "endpoint" not in study


@pytest.mark.parametrize(
    ("changes", "options", "started"),
    [
        ({"timezone_offset": None}, {}, "2024-03-05"),  # no zone: keep the date only
        ({"timezone_offset": None}, {"default_timezone": "Z"}, "2024-03-05T09:15:00.25Z"),
        ({"study_date": "2024-03"}, {}, "2024-03"),
        ({"study_time": None}, {}, "2024-03-05"),
        ({"study_date": None}, {}, None),
    ],
)
def test_started(changes: dict[str, Any], options: dict[str, Any], started: str | None) -> None:
    assert study_of([header(1, 1, **changes)], **options).get("started") == started


def test_series_level_elements() -> None:
    negative, series = study_of(
        [
            header(
                4,
                1,
                modality=None,
                series_description="Axial",
                body_part_examined="CHEST",
                laterality="L",
                series_date="2024-03-05",
                series_time="09:20:00",
            ),
            header(-1, -5, series_uid=f"{STUDY}.neg", laterality="U"),
        ]
    )["series"]
    assert series["modality"]["code"] == "OT"  # Modality absent: FHIR still needs one
    assert series["description"] == "Axial"
    assert series["bodySite"] == {"display": "CHEST"}
    assert series["laterality"] == {
        "system": "http://snomed.info/sct",
        "code": "419161000",
        "display": "Unilateral left",
    }
    assert series["started"] == "2024-03-05T09:20:00+01:00"
    # Sorted by number, so -1 comes first, but unsignedInt cannot hold it; U(npaired) has no code.
    assert negative["uid"] == f"{STUDY}.neg"
    assert "number" not in negative
    assert "number" not in negative["instance"][0]
    assert "laterality" not in negative


def test_accession_without_issuer_and_without_accession() -> None:
    with_plain = study_of([header(1, 1)])["identifier"]
    assert "system" not in with_plain[1]
    assert with_plain[1]["value"] == "ACC-1"
    assert len(study_of([header(1, 1, accession_number=None)])["identifier"]) == 1


@pytest.mark.parametrize(
    ("instances", "options", "message"),
    [
        ([], {}, "needs at least one instance"),
        ([header(1, 1), header(1, 2, study_instance_uid="1.2.3")], {}, "several studies: `1.2.3`, "),
        ([header(1, 1)], {"status": "done"}, "ImagingStudy status `done` is not one of"),
    ],
)
def test_invalid_arguments(instances: list[InstanceHeader], options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        imaging_study_from_instances(instances, patient_reference="Patient/p1", **options)


@pytest.mark.parametrize(
    "name",
    [
        "CT_small.dcm",
        "MR_small.dcm",
        "examples_overlay.dcm",
        "waveform_ecg.dcm",
        "test-SR.dcm",
        "rtplan.dcm",
        "image_dfl.dcm",
    ],
)
def test_bundled_samples_map_to_valid_resources(name: str) -> None:
    h = read_instance_header(bundled(name))
    patient = patient_from_header(h)
    validate(patient)
    study = study_of([h])
    assert study["numberOfInstances"] == 1
    assert study["series"][0]["instance"][0]["uid"] == h.sop_instance_uid


def test_patient() -> None:
    h = header(1, 1, patient_sex="F", patient_birth_date="1960-05", issuer_of_patient_id=Issuer("HOSP A/1"))
    patient = patient_from_header(h)
    validate(patient)
    system = LOCAL_ISSUER_SYSTEM_PREFIX + "HOSP%20A%2F1"
    assert patient == {
        "resourceType": "Patient",
        "id": deterministic_id("Patient", system, "PID-1"),
        "identifier": [
            {
                "use": "usual",
                "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]},
                "system": system,
                "value": "PID-1",
            }
        ],
        "name": [{"text": "Jane Doe", "family": "Doe", "given": ["Jane"]}],
        "gender": "female",
        "birthDate": "1960-05",
    }
    # Another instance of the same patient maps to the same resource id.
    assert patient_from_header(header(2, 7, issuer_of_patient_id=Issuer("HOSP A/1")))["id"] == patient["id"]


def test_patient_without_issuer_or_id() -> None:
    plain = patient_from_header(header(1, 1))
    assert plain["identifier"][0]["system"] == NO_ISSUER_SYSTEM
    assert (
        patient_from_header(header(1, 1), default_system="urn:oid:1.2.3")["identifier"][0]["system"] == "urn:oid:1.2.3"
    )
    anonymous = patient_from_header(header(1, 1, patient_id=None, patient_name=None))
    validate(anonymous)
    assert anonymous == {"resourceType": "Patient", "id": deterministic_id("Patient", "study", STUDY)}


@pytest.mark.parametrize(
    ("sex", "gender"), [("M", "male"), ("F", "female"), ("O", "other"), ("X", "unknown"), (None, None)]
)
def test_gender(sex: str | None, gender: str | None) -> None:
    assert patient_from_header(header(1, 1, patient_sex=sex)).get("gender") == gender


@pytest.mark.parametrize(
    ("issuer", "system"),
    [
        (None, None),
        (Issuer("HOSP_A", "2.16.840.1.113883.3.72", "ISO"), "urn:oid:2.16.840.1.113883.3.72"),
        (Issuer(None, "A1B2C3D4-0000-4000-8000-00000000000F", "UUID"), "urn:uuid:a1b2c3d4-0000-4000-8000-00000000000f"),
        (Issuer(None, "https://hospital.example/ids", "URI"), "https://hospital.example/ids"),
        (Issuer("HOSP_A", "not an oid", "ISO"), LOCAL_ISSUER_SYSTEM_PREFIX + "HOSP_A"),
        (Issuer(None, "hospital.example", "DNS"), LOCAL_ISSUER_SYSTEM_PREFIX + "hospital.example"),
        (Issuer("2.16.840.1.113883.3.72"), "urn:oid:2.16.840.1.113883.3.72"),
        (Issuer("urn:oid:1.2.3"), "urn:oid:1.2.3"),
        (Issuer("1234"), LOCAL_ISSUER_SYSTEM_PREFIX + "1234"),
    ],
)
def test_identifier_system(issuer: Issuer | None, system: str | None) -> None:
    assert identifier_system(issuer) == system


def test_deterministic_id() -> None:
    value = deterministic_id("ImagingStudy", STUDY)
    assert value == deterministic_id("ImagingStudy", STUDY)
    assert re.fullmatch(r"[0-9a-f]{32}", value)
    assert deterministic_id("ab", "c") != deterministic_id("a", "bc")
    with pytest.raises(ValueError, match="at least one part"):
        deterministic_id()
