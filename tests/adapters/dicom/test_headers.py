"""Tests for reading instance headers (``adapters.dicom.headers``)."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.uid import (
    JPEG2000,
    CTImageStorage,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLSLossless,
    RLELossless,
)

from adapters.dicom import (
    DicomProblem,
    InstanceHeader,
    InvalidDicomError,
    Issuer,
    PersonName,
    header_from_dataset,
    read_instance_header,
)

from .samples import SOP_UID, STUDY_UID, build_instance, bundled, raw_element

if TYPE_CHECKING:
    from pathlib import Path

# (file, modality, transfer syntax, SOP class suffix after 1.2.840.10008.5.1.4.1.1., frames)
SAMPLES = [
    ("CT_small.dcm", "CT", ExplicitVRLittleEndian, "2", None),
    ("MR_small_implicit.dcm", "MR", ImplicitVRLittleEndian, "4", None),
    ("MR_small_bigendian.dcm", "MR", ExplicitVRBigEndian, "4", None),
    ("ExplVR_BigEnd.dcm", "US", ExplicitVRBigEndian, "6.1", None),
    ("SC_rgb_jpeg_dcmtk.dcm", "OT", JPEGBaseline8Bit, "7", None),
    ("JPEG-lossy.dcm", "NM", JPEGExtended12Bit, "7", 1),
    ("JPEG2000.dcm", "NM", JPEG2000, "7", 1),
    ("MR_small_jp2klossless.dcm", "MR", JPEG2000Lossless, "4", None),
    ("MR_small_jpeg_ls_lossless.dcm", "MR", JPEGLSLossless, "4", None),
    ("MR_small_RLE.dcm", "MR", RLELossless, "4", None),
    ("image_dfl.dcm", "OT", DeflatedExplicitVRLittleEndian, "7", None),
    ("examples_ybr_color.dcm", "US", JPEGBaseline8Bit, "3.1", 30),
    ("SC_rgb_rle_2frame.dcm", "OT", RLELossless, "7", 2),
    ("rtdose.dcm", "RTDOSE", ImplicitVRLittleEndian, "481.2", 15),
    ("rtplan.dcm", "RTPLAN", ImplicitVRLittleEndian, "481.5", None),
    ("liver_expb_1frame.dcm", "SEG", ExplicitVRBigEndian, "66.4", None),
    ("test-SR.dcm", "SR", ExplicitVRLittleEndian, "88.33", None),
]


@pytest.mark.parametrize(("name", "modality", "syntax", "sop_class", "frames"), SAMPLES)
def test_reads_bundled_samples(name: str, modality: str, syntax: str, sop_class: str, frames: int | None) -> None:
    header = read_instance_header(bundled(name))
    assert header.modality == modality
    assert header.transfer_syntax_uid == syntax
    assert header.sop_class_uid == f"1.2.840.10008.5.1.4.1.1.{sop_class}"
    assert header.number_of_frames == frames
    for uid in (header.study_instance_uid, header.series_instance_uid, header.sop_instance_uid):
        assert 0 < len(uid) <= 64


def test_ct_small_fields() -> None:
    header = read_instance_header(bundled("CT_small.dcm"))
    assert header.patient_id == "1CT1"
    assert header.patient_name == PersonName(family="CompressedSamples", given=("CT1",))
    assert header.patient_sex == "O"
    assert (header.study_date, header.study_time, header.timezone_offset) == ("2004-01-19", "07:27:30", "-05:00")
    assert (header.series_date, header.series_time) == ("1997-04-30", "11:27:49")
    assert (header.series_number, header.instance_number) == (1, 1)
    assert header.sop_class_uid == CTImageStorage


def test_name_components_dates_and_accession() -> None:
    rtplan = read_instance_header(bundled("rtplan.dcm"))
    assert rtplan.patient_name == PersonName(family="Last", given=("First", "mid"), prefix=("pre",))
    assert rtplan.patient_name is not None
    assert rtplan.patient_name.text == "pre First mid Last"
    legacy = read_instance_header(bundled("ExplVR_BigEnd.dcm"))  # ACR-NEMA style DA and TM
    assert (legacy.study_date, legacy.study_time) == ("1997-04-24", "14:04:38")
    overlay = read_instance_header(bundled("examples_overlay.dcm"))
    assert overlay.accession_number == "8000000000330109"
    assert overlay.body_part_examined == "ABDOMEN"
    assert overlay.patient_birth_date == "1111-11-11"
    assert overlay.study_time == "13:26:45.921000"


def test_path_and_bytes_give_the_same_header() -> None:
    path = bundled("JPEG2000.dcm")
    assert read_instance_header(path) == read_instance_header(path.read_bytes())
    assert read_instance_header(str(path)) == read_instance_header(bytearray(path.read_bytes()))


def test_pixel_data_is_never_decoded() -> None:
    # Garbage in place of the pixel values (same length) cannot matter if they are never decoded.
    path = bundled("MR_small.dcm")
    pixels = raw_element(path, "PixelData")
    data = bytearray(path.read_bytes())
    data[pixels.value_tell : pixels.value_tell + pixels.length] = random.Random(1).randbytes(pixels.length)
    assert read_instance_header(bytes(data)).modality == "MR"


def test_invalid_integer_string_is_dropped() -> None:
    # badVR.dcm holds Number of Frames "1A".
    assert read_instance_header(bundled("badVR.dcm")).number_of_frames is None


@pytest.mark.parametrize(
    ("name", "syntax"),
    [
        ("ExplVR_LitEndNoMeta.dcm", ExplicitVRLittleEndian),
        ("ExplVR_BigEndNoMeta.dcm", ExplicitVRBigEndian),
        ("rtstruct.dcm", ImplicitVRLittleEndian),
    ],
)
def test_force_reads_files_without_preamble(name: str, syntax: str) -> None:
    path = bundled(name)
    with pytest.raises(InvalidDicomError) as caught:
        read_instance_header(path)
    assert caught.value.code is DicomProblem.NOT_DICOM
    assert read_instance_header(path, force=True).transfer_syntax_uid == syntax


@pytest.mark.parametrize("data", [b"", b"hello", random.Random(0).randbytes(4096), b"\0" * 128 + b"DICX" + b"\0" * 64])
def test_not_dicom(data: bytes) -> None:
    with pytest.raises(InvalidDicomError) as caught:
        read_instance_header(data)
    assert caught.value.code is DicomProblem.NOT_DICOM
    assert caught.value.reason.startswith("The input is not a DICOM file")


@pytest.mark.parametrize("seed", range(5))
def test_random_bytes_with_force_are_rejected(seed: int) -> None:
    with pytest.raises(InvalidDicomError):
        read_instance_header(random.Random(seed).randbytes(2048), force=True)


def test_missing_path_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_instance_header(tmp_path / "absent.dcm")


def test_synthetic_instance_round_trips() -> None:
    header = read_instance_header(build_instance())
    assert header.study_instance_uid == STUDY_UID
    assert header.sop_instance_uid == SOP_UID
    assert header.patient_name == PersonName(family="Doe", given=("Jane", "Q"), prefix=("Dr.",), suffix=("Jr.",))


@pytest.mark.parametrize(
    ("keyword", "value", "code", "message"),
    [
        (
            "SOPInstanceUID",
            None,
            DicomProblem.MISSING_ATTRIBUTE,
            "Required attribute SOPInstanceUID (0008,0018) is missing.",
        ),
        (
            "StudyInstanceUID",
            None,
            DicomProblem.MISSING_ATTRIBUTE,
            "Required attribute StudyInstanceUID (0020,000D) is missing.",
        ),
        (
            "SeriesInstanceUID",
            "",
            DicomProblem.MISSING_ATTRIBUTE,
            "Required attribute SeriesInstanceUID (0020,000E) is empty.",
        ),
        ("SOPClassUID", None, DicomProblem.MISSING_ATTRIBUTE, "Required attribute SOPClassUID (0008,0016) is missing."),
        ("SOPInstanceUID", "1.2.03", DicomProblem.INVALID_UID, "SOPInstanceUID (0008,0018)"),
        ("StudyInstanceUID", "1.2.abc", DicomProblem.INVALID_UID, "StudyInstanceUID (0020,000D)"),
        ("SeriesInstanceUID", "1." + "2" * 70, DicomProblem.INVALID_UID, "SeriesInstanceUID (0020,000E)"),
    ],
)
def test_required_uids(keyword: str, value: str | None, code: DicomProblem, message: str) -> None:
    with pytest.raises(InvalidDicomError) as caught:
        read_instance_header(build_instance(**{keyword: value}))
    assert caught.value.code is code
    assert message in caught.value.reason


def test_issuers_and_laterality() -> None:
    qualifiers = Dataset()
    qualifiers.UniversalEntityID = "2.16.840.1.113883.3.72"
    qualifiers.UniversalEntityIDType = "ISO"
    accession_issuer = Dataset()
    accession_issuer.LocalNamespaceEntityID = "RIS"
    data = build_instance(
        IssuerOfPatientID="HOSP_A",
        IssuerOfPatientIDQualifiersSequence=[qualifiers],
        AccessionNumber="ACC-9",
        IssuerOfAccessionNumberSequence=[accession_issuer],
        ImageLaterality="l",
        PatientSex="f",
        PatientBirthDate="1960",
    )
    header = read_instance_header(data)
    assert header.issuer_of_patient_id == Issuer("HOSP_A", "2.16.840.1.113883.3.72", "ISO")
    assert header.accession_number_issuer == Issuer("RIS")
    assert (header.laterality, header.patient_sex, header.patient_birth_date) == ("L", "F", "1960")


def test_header_from_network_dataset() -> None:
    path = bundled("CT_small.dcm")
    ds = dcmread(path, stop_before_pixels=True)
    assert header_from_dataset(ds, ExplicitVRLittleEndian) == read_instance_header(path)
    built = Dataset()  # as decoded from a C-STORE request: no file meta at all
    built.StudyInstanceUID, built.SeriesInstanceUID = STUDY_UID, STUDY_UID + ".1"
    built.SOPInstanceUID, built.SOPClassUID = SOP_UID, CTImageStorage
    header = header_from_dataset(built, ImplicitVRLittleEndian)
    assert isinstance(header, InstanceHeader)
    assert header.modality is None
    with pytest.raises(InvalidDicomError, match=r"Transfer Syntax UID \(0002,0010\) is empty"):
        header_from_dataset(built, "")
    with pytest.raises(InvalidDicomError, match="is not a valid DICOM UID"):
        header_from_dataset(built, "1.2.840.10008.1.2.x")
