"""Tests for the C-ECHO/C-STORE listener with pynetdicom as the peer, over real sockets."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pynetdicom._config
import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pynetdicom import AE
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from adapters.dicom.background import BackgroundPublisher
from adapters.dicom.headers import read_instance_header
from adapters.dicom.scp import STATUS_CANNOT_UNDERSTAND, STATUS_DOES_NOT_MATCH, StorageScp

from .samples import STUDY_UID, build_instance, bundled

if TYPE_CHECKING:
    from pathlib import Path

    from pynetdicom.association import Association

    from .environment import DicomEnv

#: Bundled pydicom files over the transfer syntaxes and modalities we must accept.
SAMPLES = [
    "CT_small.dcm",  # CT, explicit little endian
    "MR_small_jpeg_ls_lossless.dcm",  # MR, JPEG-LS lossless
    "SC_rgb_jpeg_dcmd.dcm",  # SC, implicit little endian
    "JPEG2000.dcm",  # NM, JPEG 2000
    "examples_jpeg2k.dcm",  # US, JPEG 2000 lossless
    "SC_rgb_jpeg_dcmtk.dcm",  # SC, JPEG baseline
    "SC_rgb_jpeg_gdcm.dcm",  # JPEG lossless SV1
    "JPGExtended.dcm",  # JPEG extended
    "image_dfl.dcm",  # deflated explicit little endian
    "examples_ybr_color.dcm",  # US multi-frame, JPEG baseline
    "rtdose_rle.dcm",  # RT Dose multi-frame, RLE
]


@dataclass
class Listener:
    env: DicomEnv
    scp: StorageScp
    background: BackgroundPublisher

    def associate(self, datasets: list[Dataset], *, calling: str = "TESTSCU") -> Association:
        ae = AE(ae_title=calling)
        ae.add_requested_context(Verification)
        for context in {(ds.SOPClassUID, ds.file_meta.TransferSyntaxUID) for ds in datasets}:
            ae.add_requested_context(*context)
        host, port = self.scp.address
        return ae.associate(host, port, ae_title="FHIRSRV")

    def send(self, datasets: list[Dataset]) -> list[Dataset]:
        assoc = self.associate(datasets)
        assert assoc.is_established
        try:
            return [assoc.send_c_store(ds) for ds in datasets]
        finally:
            assoc.release()


@pytest.fixture
def listener(dicom_env: DicomEnv) -> Iterator[Listener]:
    background = BackgroundPublisher(dicom_env.publisher, delay=0.05)
    scp = StorageScp(
        dicom_env.store,
        host="127.0.0.1",
        port=0,
        allowed_calling=["TESTSCU"],
        on_stored=lambda header: background.notify(header.study_instance_uid),
    )
    background.start()
    scp.start()
    yield Listener(dicom_env, scp, background)
    scp.stop()
    background.stop()


def _dataset(data: bytes) -> Dataset:
    return dcmread(io.BytesIO(data))


def _study_instance(series: int, number: int) -> Dataset:
    return _dataset(
        build_instance(
            SeriesInstanceUID=f"{STUDY_UID}.{series}",
            SOPInstanceUID=f"{STUDY_UID}.{series}.{number}",
            SeriesNumber=str(series),
            InstanceNumber=str(number),
        )
    )


def test_echo(listener: Listener) -> None:
    assoc = listener.associate([])
    assert assoc.is_established
    assert assoc.send_c_echo().Status == 0x0000
    assoc.release()


def test_store_bundled_files_in_many_transfer_syntaxes(listener: Listener) -> None:
    paths = [bundled(name) for name in SAMPLES]
    datasets = [dcmread(path) for path in paths]
    statuses = listener.send(datasets)
    assert [s.Status for s in statuses] == [0x0000] * len(SAMPLES)
    rows = {row.sop_instance_uid: row for row in listener.env.instances()}
    assert len(rows) == len(SAMPLES)
    for path, ds in zip(paths, datasets, strict=True):
        row = rows[str(ds.SOPInstanceUID)]
        stored = listener.env.files.path(row.sha256)
        assert row.transfer_syntax_uid == str(ds.file_meta.TransferSyntaxUID), path.name
        assert read_instance_header(stored) == read_instance_header(path), path.name
        # Stored as received: the encapsulated or native pixel bytes are untouched.
        assert dcmread(stored).PixelData == ds.PixelData, path.name
    assert listener.background.wait_until_idle()
    studies = {str(ds.StudyInstanceUID) for ds in datasets}
    assert len(listener.env.resources("ImagingStudy")) == len(studies)
    assert all(row.published for row in listener.env.instances())


def test_unknown_calling_ae_is_rejected(listener: Listener) -> None:
    assoc = listener.associate([], calling="STRANGER")
    assert assoc.is_rejected
    assert listener.env.instances() == []


def test_data_set_without_study_uid_is_refused_and_quarantined(listener: Listener) -> None:
    ds = _dataset(build_instance(StudyInstanceUID=None))
    [status] = listener.send([ds])
    assert status.Status == STATUS_DOES_NOT_MATCH
    assert status.ErrorComment == "Required attribute StudyInstanceUID (0020,000D) is missing."
    assert listener.env.instances() == []
    assert len(listener.env.quarantined()) == 1


def test_truncated_file_is_refused(listener: Listener, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Sent from the file as is; otherwise pynetdicom decodes and re-encodes it whole.
    monkeypatch.setattr(pynetdicom._config, "STORE_SEND_CHUNKED_DATASET", True)
    path = tmp_path / "cut.dcm"
    path.write_bytes(bundled("CT_small.dcm").read_bytes()[:-100])
    ds = dcmread(bundled("CT_small.dcm"), stop_before_pixels=True)
    assoc = listener.associate([ds])
    status = assoc.send_c_store(path)
    assoc.release()
    assert status.Status == STATUS_CANNOT_UNDERSTAND
    assert status.ErrorComment.startswith("Element DataSetTrailingPadding (FFFC,FFFC) declares")
    assert listener.env.instances() == []
    [quarantined] = listener.env.quarantined()
    assert quarantined.read_bytes().endswith(path.read_bytes()[-1000:])


def test_duplicate_is_acknowledged_and_stored_once(listener: Listener) -> None:
    ds = _study_instance(1, 1)
    assert [s.Status for s in listener.send([ds, ds])] == [0, 0]
    assert [s.Status for s in listener.send([ds])] == [0]
    assert len(listener.env.instances()) == 1
    assert listener.background.wait_until_idle()
    [study] = listener.env.resources("ImagingStudy")
    assert study["numberOfInstances"] == 1


def test_study_over_two_associations_yields_one_imaging_study(listener: Listener) -> None:
    assert [s.Status for s in listener.send([_study_instance(2, 3), _study_instance(1, 2)])] == [0, 0]
    assert listener.background.wait_until_idle()
    assert [s.Status for s in listener.send([_study_instance(1, 1), _study_instance(2, 1), _study_instance(2, 2)])] == [
        0,
        0,
        0,
    ]
    assert listener.background.wait_until_idle()
    [study] = listener.env.resources("ImagingStudy")
    assert (study["numberOfSeries"], study["numberOfInstances"]) == (2, 5)
    assert [(s["uid"], s["numberOfInstances"]) for s in study["series"]] == [
        (f"{STUDY_UID}.1", 2),
        (f"{STUDY_UID}.2", 3),
    ]
    assert len(listener.env.resources("Patient")) == 1
    assert int(study["meta"]["versionId"]) >= 2
