"""Read the header of a DICOM composite instance into an immutable record.

:func:`read_instance_header` reads a Part 10 file (path or bytes) and
:func:`header_from_dataset` takes a data set already decoded by the network
layer; both validate the identifying UIDs and return an :class:`InstanceHeader`
holding exactly what the FHIR mapping needs, already normalised (FHIR date and
time strings, integers, split person names). Pixel Data values are never read,
let alone decoded: only its element and fragment headers, to detect truncation.

pydicom's own warnings about non-conformant values are left to propagate to the
caller: silencing them would mean toggling global, thread-unsafe state.
"""

from __future__ import annotations

import io
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydicom import dcmread
from pydicom.errors import InvalidDicomError as PydicomInvalidDicomError
from pydicom.tag import Tag
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from adapters.dicom import _values
from adapters.dicom._truncation import check_file_complete, check_raw_lengths
from adapters.dicom.errors import DicomProblem, InvalidDicomError

if TYPE_CHECKING:
    from typing import BinaryIO

    from pydicom.dataset import Dataset

__all__ = ["InstanceHeader", "Issuer", "PersonName", "header_from_dataset", "read_instance_header"]


@dataclass(frozen=True, slots=True)
class PersonName:
    """A DICOM PN value split into the parts of a FHIR ``HumanName``."""

    #: Family name complex.
    family: str | None = None
    #: Given name then middle name, as FHIR orders ``HumanName.given``.
    given: tuple[str, ...] = ()
    #: Name prefix (``Dr.``), at most one entry.
    prefix: tuple[str, ...] = ()
    #: Name suffix (``Jr.``), at most one entry.
    suffix: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """Return the name in reading order, e.g. ``Dr. Jane Q Doe``."""
        family = (self.family,) if self.family else ()
        return " ".join((*self.prefix, *self.given, *family, *self.suffix))

    @classmethod
    def from_dicom(cls, value: object) -> PersonName | None:
        """Return the name held by a PN value, or ``None`` when every component is empty."""
        parts = _values.person_name_parts(value)
        if parts is None:
            return None
        family, given, middle, prefix, suffix = parts
        return cls(
            family=family or None,
            given=tuple(part for part in (given, middle) if part),
            prefix=(prefix,) if prefix else (),
            suffix=(suffix,) if suffix else (),
        )


@dataclass(frozen=True, slots=True)
class Issuer:
    """The authority that assigned a Patient ID or an Accession Number."""

    #: Local namespace: Issuer of Patient ID (0010,0021) or Local Namespace Entity ID (0040,0031).
    local_id: str | None = None
    #: Universal Entity ID (0040,0032), e.g. an OID.
    universal_id: str | None = None
    #: Universal Entity ID Type (0040,0033): ``ISO``, ``UUID``, ``URI``, ``DNS``...
    universal_id_type: str | None = None


@dataclass(frozen=True, slots=True)
class InstanceHeader:
    """The identifying and descriptive attributes of one DICOM instance."""

    #: Study Instance UID (0020,000D).
    study_instance_uid: str
    #: Series Instance UID (0020,000E).
    series_instance_uid: str
    #: SOP Instance UID (0008,0018).
    sop_instance_uid: str
    #: SOP Class UID (0008,0016).
    sop_class_uid: str
    #: Transfer Syntax UID of the encoded instance.
    transfer_syntax_uid: str
    #: Patient ID (0010,0020).
    patient_id: str | None = None
    #: Who assigned :attr:`patient_id`.
    issuer_of_patient_id: Issuer | None = None
    #: Patient's Name (0010,0010).
    patient_name: PersonName | None = None
    #: Patient's Birth Date (0010,0030) as a FHIR date, possibly partial (``1960-05``).
    patient_birth_date: str | None = None
    #: Patient's Sex (0010,0040) as written, upper-cased: ``M``, ``F``, ``O`` or other.
    patient_sex: str | None = None
    #: Accession Number (0008,0050).
    accession_number: str | None = None
    #: Issuer of Accession Number Sequence (0008,0051), first item.
    accession_number_issuer: Issuer | None = None
    #: Study Date (0008,0020) as a FHIR date.
    study_date: str | None = None
    #: Study Time (0008,0030) as a FHIR time.
    study_time: str | None = None
    #: Timezone Offset From UTC (0008,0201) as ``+HH:MM``, applying to all dates and times.
    timezone_offset: str | None = None
    #: Study Description (0008,1030).
    study_description: str | None = None
    #: Referring Physician's Name (0008,0090).
    referring_physician_name: PersonName | None = None
    #: Series Number (0020,0011).
    series_number: int | None = None
    #: Modality (0008,0060), upper-cased.
    modality: str | None = None
    #: Series Description (0008,103E).
    series_description: str | None = None
    #: Series Date (0008,0021) as a FHIR date.
    series_date: str | None = None
    #: Series Time (0008,0031) as a FHIR time.
    series_time: str | None = None
    #: Body Part Examined (0018,0015).
    body_part_examined: str | None = None
    #: Laterality (0020,0060), else Image Laterality (0020,0062): ``R``, ``L``, ``B``, ``U``.
    laterality: str | None = None
    #: Instance Number (0020,0013).
    instance_number: int | None = None
    #: Number of Frames (0028,0008); ``None`` when absent (a single-frame instance).
    number_of_frames: int | None = None


def read_instance_header(
    source: str | os.PathLike[str] | bytes | bytearray | memoryview, *, force: bool = False
) -> InstanceHeader:
    """Read the header of a DICOM Part 10 file without reading its Pixel Data.

    :param source: a filesystem path, or the complete file as bytes.
    :param force: also accept data without the 128-byte preamble and ``DICM``
        prefix (raw data sets as old archives write them).
    :raises InvalidDicomError: if the input is not DICOM, is truncated, or lacks
        valid Study, Series or SOP Instance UIDs or a SOP Class UID.
    :raises OSError: if *source* is a path that cannot be opened.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        return _read_stream(io.BytesIO(data), len(data), force=force)
    with Path(source).open("rb") as fp:
        return _read_stream(fp, os.fstat(fp.fileno()).st_size, force=force)


def header_from_dataset(ds: Dataset, transfer_syntax: str) -> InstanceHeader:
    """Build the header of a data set already decoded, e.g. from a C-STORE request.

    :param transfer_syntax: the UID the data set was encoded with (for the
        network, the accepted presentation context's transfer syntax).
    :raises InvalidDicomError: if a required UID is missing or malformed, or an
        element is shorter than it declares.
    """
    check_raw_lengths(ds)
    return InstanceHeader(
        study_instance_uid=_required_uid(ds, "StudyInstanceUID"),
        series_instance_uid=_required_uid(ds, "SeriesInstanceUID"),
        sop_instance_uid=_required_uid(ds, "SOPInstanceUID"),
        sop_class_uid=_required_uid(ds, "SOPClassUID"),
        transfer_syntax_uid=_checked_uid(_values.text(transfer_syntax), "Transfer Syntax UID (0002,0010)"),
        patient_id=_text(ds, "PatientID"),
        issuer_of_patient_id=_issuer(
            _text(ds, "IssuerOfPatientID"), _first_item(ds, "IssuerOfPatientIDQualifiersSequence")
        ),
        patient_name=PersonName.from_dicom(_optional(ds, "PatientName")),
        patient_birth_date=_values.fhir_date(_optional(ds, "PatientBirthDate")),
        patient_sex=_upper(_text(ds, "PatientSex")),
        accession_number=_text(ds, "AccessionNumber"),
        accession_number_issuer=_accession_issuer(ds),
        study_date=_values.fhir_date(_optional(ds, "StudyDate")),
        study_time=_values.fhir_time(_optional(ds, "StudyTime")),
        timezone_offset=_values.fhir_timezone(_optional(ds, "TimezoneOffsetFromUTC")),
        study_description=_text(ds, "StudyDescription"),
        referring_physician_name=PersonName.from_dicom(_optional(ds, "ReferringPhysicianName")),
        series_number=_values.integer(_optional(ds, "SeriesNumber")),
        modality=_upper(_text(ds, "Modality")),
        series_description=_text(ds, "SeriesDescription"),
        series_date=_values.fhir_date(_optional(ds, "SeriesDate")),
        series_time=_values.fhir_time(_optional(ds, "SeriesTime")),
        body_part_examined=_text(ds, "BodyPartExamined"),
        laterality=_upper(_text(ds, "Laterality") or _text(ds, "ImageLaterality")),
        instance_number=_values.integer(_optional(ds, "InstanceNumber")),
        number_of_frames=_values.integer(_optional(ds, "NumberOfFrames")),
    )


def _read_stream(fp: BinaryIO, size: int, *, force: bool) -> InstanceHeader:
    try:
        ds = dcmread(fp, stop_before_pixels=True, force=force)
    except PydicomInvalidDicomError as exc:
        raise InvalidDicomError(f"The input is not a DICOM file: {exc}", code=DicomProblem.NOT_DICOM) from exc
    except Exception as exc:
        if isinstance(exc, OSError) and exc.errno is not None:
            raise  # a failing disk, not bad data: must not end up in quarantine
        # pydicom signals corrupt input with many exception types (OSError,
        # ValueError, struct.error, zlib.error...); a failure at the end of the
        # input, or an inflate error saying so, means the input was cut short.
        at_end = fp.tell() >= size if not isinstance(exc, zlib.error) else "truncated" in str(exc)
        cut = isinstance(exc, EOFError) or at_end
        code = DicomProblem.TRUNCATED if cut else DicomProblem.UNREADABLE
        raise InvalidDicomError(f"The DICOM data set could not be decoded: {exc}", code=code) from exc
    transfer_syntax = _values.text(ds.file_meta.get("TransferSyntaxUID")) or _syntax_from_encoding(ds)
    check_file_complete(ds, fp, size, transfer_syntax)
    return header_from_dataset(ds, transfer_syntax)


def _syntax_from_encoding(ds: Dataset) -> str:
    """Name the transfer syntax pydicom inferred for a data set without file meta."""
    implicit, little = ds.original_encoding
    if implicit:
        return str(ImplicitVRLittleEndian)
    return str(ExplicitVRLittleEndian if little is not False else ExplicitVRBigEndian)


def _required_uid(ds: Dataset, keyword: str) -> str:
    tag = Tag(keyword)
    name = f"{keyword} ({tag.group:04X},{tag.element:04X})"
    if keyword not in ds:
        raise InvalidDicomError(f"Required attribute {name} is missing.", code=DicomProblem.MISSING_ATTRIBUTE)
    try:
        value = _values.text(ds[keyword].value)
    except Exception as exc:
        # With pydicom's validation set to raise, a malformed UI fails on access.
        raise InvalidDicomError(f"{name} could not be decoded: {exc}", code=DicomProblem.INVALID_UID) from exc
    if value is None:
        raise InvalidDicomError(f"Required attribute {name} is empty.", code=DicomProblem.MISSING_ATTRIBUTE)
    return _checked_uid(value, name)


def _checked_uid(value: str | None, name: str) -> str:
    if value is None:
        raise InvalidDicomError(f"Required attribute {name} is empty.", code=DicomProblem.MISSING_ATTRIBUTE)
    if not _values.is_valid_uid(value):
        raise InvalidDicomError(
            f"{name} value `{value}` is not a valid DICOM UID (PS3.5 section 9.1).",
            code=DicomProblem.INVALID_UID,
        )
    return value


def _optional(ds: Dataset, keyword: str) -> object:
    """Return an element's value, or ``None`` when it is absent or cannot be decoded."""
    try:
        return ds.get(keyword)
    except Exception:  # noqa: BLE001 - see below
        # A garbled descriptive attribute must not cost us the instance; pydicom
        # raises assorted types (ValueError, KeyError, struct.error) when decoding.
        return None


def _text(ds: Dataset, keyword: str) -> str | None:
    return _values.text(_optional(ds, keyword))


def _upper(value: str | None) -> str | None:
    return value.upper() if value else None


def _first_item(ds: Dataset, keyword: str) -> Dataset | None:
    sequence = _optional(ds, keyword)
    try:
        return sequence[0] if sequence else None  # type: ignore[index]
    except (TypeError, IndexError):
        return None


def _issuer(local_id: str | None, item: Dataset | None) -> Issuer | None:
    universal_id = _text(item, "UniversalEntityID") if item is not None else None
    id_type = _text(item, "UniversalEntityIDType") if item is not None else None
    if local_id is None and universal_id is None:
        return None
    return Issuer(local_id, universal_id, _upper(id_type) if universal_id else None)


def _accession_issuer(ds: Dataset) -> Issuer | None:
    item = _first_item(ds, "IssuerOfAccessionNumberSequence")
    return _issuer(_text(item, "LocalNamespaceEntityID"), item) if item is not None else None
