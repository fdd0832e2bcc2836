"""Tests for detecting input cut short (``adapters.dicom._truncation``)."""

from __future__ import annotations

import pytest
from pydicom import dcmread
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.tag import Tag
from pydicom.uid import CTImageStorage, ImplicitVRLittleEndian

from adapters.dicom import DicomProblem, InvalidDicomError, header_from_dataset, read_instance_header

from .samples import SERIES_UID, SOP_UID, STUDY_UID, build_instance, bundled, raw_element

_PREAMBLE_AND_PREFIX = 132


def _code(data: bytes) -> DicomProblem | None:
    try:
        read_instance_header(data)
    except InvalidDicomError as exc:
        return exc.code
    return None


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("MR_truncated.dcm", "Element PixelData (7FE0,0010) declares a 8192-byte value at offset 1500"),
        ("rtplan_truncated.dcm", "Element BeamSequence (300A,00B0) declares a 976-byte value at offset 1418"),
    ],
)
def test_pydicom_truncated_samples(name: str, message: str) -> None:
    with pytest.raises(InvalidDicomError) as caught:
        read_instance_header(bundled(name))
    assert caught.value.code is DicomProblem.TRUNCATED
    assert caught.value.reason.startswith(message)


@pytest.mark.parametrize(
    ("name", "step"),
    [
        ("JPEG2000.dcm", 7),  # encapsulated fragments
        ("SC_rgb_rle_2frame.dcm", 5),  # multi-frame RLE
        ("MR_small_bigendian.dcm", 13),
        ("MR_small_implicit.dcm", 13),
        ("image_dfl.dcm", 11),  # deflated data set
    ],
)
def test_every_prefix_of_an_image_is_rejected(name: str, step: int) -> None:
    path = bundled(name)
    data = path.read_bytes()
    deflated = name == "image_dfl.dcm"
    if deflated:
        # Offsets count in the inflated stream; any cut after the meta group breaks zlib.
        uid_end = _PREAMBLE_AND_PREFIX + 12 + dcmread(path).file_meta.FileMetaInformationGroupLength + 1
    else:
        # Until every UID has been read, "missing attribute" is as good an answer.
        uids = [raw_element(path, keyword) for keyword in ("StudyInstanceUID", "SOPInstanceUID")]
        uid_end = max(uid.value_tell + uid.length for uid in uids)
    tail = 8 if deflated else 0  # image_dfl.dcm has 8 bytes zlib ignores after the stream
    for cut in range(_PREAMBLE_AND_PREFIX, len(data) - tail, step):
        code = _code(data[:cut])
        assert code is not None, f"{name} cut at {cut} of {len(data)} bytes was accepted"
        if cut >= uid_end:
            assert code is DicomProblem.TRUNCATED, (cut, code)


@pytest.mark.parametrize("cut", [200, 700, 1500, 6290, 6300, 20000, 39100, 39205])
def test_ct_small_cut_at_several_points(cut: int) -> None:
    data = bundled("CT_small.dcm").read_bytes()
    assert _code(data[:cut]) in {DicomProblem.TRUNCATED, DicomProblem.MISSING_ATTRIBUTE}
    assert _code(data) is None


def test_partial_element_header_at_the_end() -> None:
    data = bundled("test-SR.dcm").read_bytes() + b"\x08\x00\x10"
    with pytest.raises(InvalidDicomError, match="3 bytes after element") as caught:
        read_instance_header(data)
    assert caught.value.code is DicomProblem.TRUNCATED
    with pytest.raises(InvalidDicomError, match="inside the element header"):
        read_instance_header(build_instance() + b"\xe0\x7f")


def test_image_without_pixel_data() -> None:
    with pytest.raises(InvalidDicomError, match=r"before the Pixel Data \(7FE0,0010\) that an image requires"):
        read_instance_header(build_instance(PixelData=None))
    # Without Rows/Columns an image SOP class alone is enough to tell.
    with pytest.raises(InvalidDicomError, match="that an image requires"):
        read_instance_header(build_instance(PixelData=None, Rows=None, Columns=None))


def test_cut_between_elements_of_a_non_image_is_undetectable() -> None:
    # A documented limit: an RT Plan cut exactly after an element parses as a
    # shorter, complete data set; nothing in the bytes says more was coming.
    series_number = raw_element(bundled("rtplan.dcm"), "SeriesNumber")
    boundary = series_number.value_tell + series_number.length
    data = bundled("rtplan.dcm").read_bytes()
    assert _code(data[:boundary]) is None


def test_corrupt_fragment_item_tag() -> None:
    path = bundled("JPEG2000.dcm")
    pixels = raw_element(path, "PixelData")
    data = bytearray(path.read_bytes())
    assert data[pixels.value_tell : pixels.value_tell + 4] == b"\xfe\xff\x00\xe0"
    data[pixels.value_tell + 3] = 0xE1
    with pytest.raises(InvalidDicomError, match=r"where an Item \(FFFE,E000\) was expected") as caught:
        read_instance_header(bytes(data))
    assert caught.value.code is DicomProblem.UNREADABLE


def test_short_raw_element_in_a_network_dataset() -> None:
    name_tag = Tag("PatientName")
    short_name = RawDataElement(name_tag, "PN", 20, b"Doe^J", 0, True, True)
    ds = Dataset({name_tag: short_name})
    ds.StudyInstanceUID, ds.SeriesInstanceUID = STUDY_UID, SERIES_UID
    ds.SOPInstanceUID, ds.SOPClassUID = SOP_UID, CTImageStorage
    with pytest.raises(InvalidDicomError, match=r"PatientName \(0010,0010\) declares a 20-byte value") as caught:
        header_from_dataset(ds, ImplicitVRLittleEndian)
    assert caught.value.code is DicomProblem.TRUNCATED
