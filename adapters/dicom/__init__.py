"""DICOM adapter: read instance headers, store files, map studies to FHIR R4.

The storage-free core: :func:`read_instance_header` and :func:`header_from_dataset`
turn a Part 10 file or a received data set into an :class:`InstanceHeader`;
:class:`FileStore` keeps the bytes by SHA-256 and quarantines rejects;
:func:`imaging_study_from_instances` and :func:`patient_from_header` build FHIR
resources. The network listener and the repository calls are layered on top.
"""

from __future__ import annotations

from adapters.dicom.errors import DicomProblem, InvalidDicomError
from adapters.dicom.filestore import FileStore, StoredFile
from adapters.dicom.headers import InstanceHeader, Issuer, PersonName, header_from_dataset, read_instance_header
from adapters.dicom.mapping import (
    deterministic_id,
    identifier_system,
    imaging_study_from_instances,
    patient_from_header,
)

__all__ = [
    "DicomProblem",
    "FileStore",
    "InstanceHeader",
    "InvalidDicomError",
    "Issuer",
    "PersonName",
    "StoredFile",
    "deterministic_id",
    "header_from_dataset",
    "identifier_system",
    "imaging_study_from_instances",
    "patient_from_header",
    "read_instance_header",
]
