"""Test inputs for the DICOM adapter: pydicom's bundled sample files and a file builder."""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any

import pytest
from pydicom import config, dcmread, dcmwrite
from pydicom.data import get_testdata_file
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, SecondaryCaptureImageStorage

STUDY_UID = "1.2.826.0.1.3680043.10.543.1"
SERIES_UID = "1.2.826.0.1.3680043.10.543.1.1"
SOP_UID = "1.2.826.0.1.3680043.10.543.1.1.1"


def bundled(name: str) -> Path:
    """Return the path of a pydicom sample file shipped in the wheel, never downloading."""
    path = get_testdata_file(name, download=False)
    if path is None:
        pytest.skip(f"pydicom sample `{name}` is not bundled with this pydicom version.")
    return Path(str(path))


def raw_element(path: Path, keyword: str) -> RawDataElement:
    """Return an element of a sample file as read, with its offset and declared length."""
    element = dcmread(path).get_item(keyword)
    assert isinstance(element, RawDataElement), keyword
    return element


def build_instance(**attributes: Any) -> bytes:
    """Return a small valid Secondary Capture Part 10 file; ``None`` removes an attribute.

    Values are set without pydicom's validation so tests can write malformed UIDs.
    """
    ds = Dataset()
    defaults: dict[str, Any] = {
        "SOPClassUID": SecondaryCaptureImageStorage,
        "SOPInstanceUID": SOP_UID,
        "StudyInstanceUID": STUDY_UID,
        "SeriesInstanceUID": SERIES_UID,
        "PatientID": "PID-1",
        "PatientName": "Doe^Jane^Q^Dr.^Jr.",
        "Modality": "OT",
        "SeriesNumber": "1",
        "InstanceNumber": "1",
        "Rows": 2,
        "Columns": 2,
        "BitsAllocated": 8,
        "BitsStored": 8,
        "HighBit": 7,
        "SamplesPerPixel": 1,
        "PixelRepresentation": 0,
        "PhotometricInterpretation": "MONOCHROME2",
        "PixelData": b"\x00\x01\x02\x03",
    }
    for keyword, value in {**defaults, **attributes}.items():
        if value is None:
            continue
        tag = tag_for_keyword(keyword)
        assert tag is not None, keyword
        ds[tag] = DataElement(tag, dictionary_VR(tag), value, validation_mode=config.IGNORE)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = UID(SOP_UID)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # pydicom re-validates while writing; malformed values are the point here.
        warnings.simplefilter("ignore", UserWarning)
        dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()
