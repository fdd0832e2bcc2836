"""Tests for the instance store (``adapters.dicom.store``): durable, once per SOP Instance UID."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

import pytest

from adapters.dicom import DicomProblem, InvalidDicomError
from adapters.dicom._codec import header_from_json
from adapters.dicom.headers import read_instance_header
from adapters.dicom.store import find_instances
from fhir_server.db import unit_of_work

from .samples import SOP_UID, STUDY_UID, build_instance, bundled

if TYPE_CHECKING:
    from .environment import DicomEnv


def test_receive_stores_bytes_and_row(dicom_env: DicomEnv) -> None:
    data = bundled("CT_small.dcm").read_bytes()
    receipt = dicom_env.store.receive(data, source="dicom:CT1")
    assert not receipt.duplicate
    assert receipt.sha256 == hashlib.sha256(data).hexdigest()
    assert dicom_env.files.path(receipt.sha256).read_bytes() == data
    [row] = dicom_env.instances()
    assert row.sop_instance_uid == receipt.header.sop_instance_uid
    assert row.study_instance_uid == receipt.header.study_instance_uid
    assert (row.sha256, row.size, row.source, row.published) == (receipt.sha256, len(data), "dicom:CT1", False)
    assert header_from_json(row.header) == read_instance_header(data)


def test_same_instance_twice_is_stored_once(dicom_env: DicomEnv) -> None:
    data = build_instance()
    assert not dicom_env.store.receive(data, source="a").duplicate
    again = dicom_env.store.receive(data, source="b")
    # Re-encoded bytes with the same UID are still the same instance; the first copy stays.
    other = dicom_env.store.receive(build_instance(PatientName="Other^Name"), source="c")
    assert again.duplicate and other.duplicate
    assert other.sha256 == again.sha256 == hashlib.sha256(data).hexdigest()
    [row] = dicom_env.instances()
    assert row.source == "a"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"plain text, not DICOM at all", DicomProblem.NOT_DICOM),
        (build_instance(StudyInstanceUID=None), DicomProblem.MISSING_ATTRIBUTE),
        (build_instance(SeriesInstanceUID="1.2.03"), DicomProblem.INVALID_UID),
        (build_instance()[:-3], DicomProblem.TRUNCATED),
    ],
    ids=["not-dicom", "missing-study-uid", "bad-uid", "truncated"],
)
def test_bad_input_is_quarantined_and_changes_nothing(dicom_env: DicomEnv, data: bytes, code: DicomProblem) -> None:
    with pytest.raises(InvalidDicomError) as caught:
        dicom_env.store.receive(data, source="dicom:BAD")
    assert caught.value.code == code
    assert dicom_env.instances() == []
    [quarantined] = dicom_env.quarantined()
    assert quarantined.read_bytes() == data
    sidecar = json.loads(quarantined.with_suffix(".json").read_text())
    assert sidecar["reason"] == caught.value.reason
    assert sidecar["context"] == {"source": "dicom:BAD", "problem": str(code)}
    assert not [p for p in dicom_env.files.root.rglob("*.dcm") if "quarantine" not in p.parts]


def test_mismatching_announced_uid_is_refused(dicom_env: DicomEnv) -> None:
    with pytest.raises(InvalidDicomError) as caught:
        dicom_env.store.receive(build_instance(), source="x", expected_sop_instance_uid="1.2.3")
    assert str(caught.value) == (
        f"The data set's SOP Instance UID `{SOP_UID}` differs from the Affected SOP Instance UID "
        "`1.2.3` of the C-STORE request."
    )
    assert dicom_env.instances() == []


def test_refused_import_is_not_quarantined(dicom_env: DicomEnv) -> None:
    with pytest.raises(InvalidDicomError):
        dicom_env.store.receive(b"junk", source="import", quarantine=False)
    assert dicom_env.quarantined() == []


def test_find_instances_by_level(dicom_env: DicomEnv) -> None:
    dicom_env.store.receive(build_instance(), source="x")
    dicom_env.store.receive(build_instance(SOPInstanceUID="1.2.3.4", SeriesInstanceUID="1.2.3"), source="x")
    with unit_of_work(dicom_env.sessions, write=False) as session:
        assert len(find_instances(session, STUDY_UID)) == 2
        assert [f.sop_instance_uid for f in find_instances(session, STUDY_UID, "1.2.3")] == ["1.2.3.4"]
        assert find_instances(session, STUDY_UID, "1.2.3", SOP_UID) == []
        assert find_instances(session, "9.9") == []
