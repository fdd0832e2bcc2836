"""Import DICOM files and folders (``fhir-server dicom import``).

Folders are walked recursively in sorted order. A DICOMDIR is the index of a
DICOM medium, not an instance: files named ``DICOMDIR`` are skipped, and the
instances it lists are found by the walk itself, which also picks up files the
index forgot. A file that is refused is reported with its path and reason and
left where it is; unlike network input it is not copied to the quarantine,
since the original is still on disk.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pydicom import dcmread, dcmwrite
from pydicom.dataset import FileMetaDataset
from pydicom.uid import UID

from adapters.dicom.audit import IMPORT_FILES, Origin
from adapters.dicom.errors import DicomProblem, InvalidDicomError
from adapters.dicom.headers import read_instance_header
from fhir_server.audit.activity import cli_user

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from adapters.dicom.store import InstanceStore, Receipt

__all__ = ["ImportFailure", "ImportSummary", "import_files", "iter_import_files"]

_DICOMDIR = "DICOMDIR"
_PREAMBLE = 128


@dataclass(frozen=True, slots=True)
class ImportFailure:
    """A file that was not stored, and why."""

    path: Path
    #: A whole sentence naming the problem.
    reason: str
    #: The rule the file broke; ``None`` when it could not be read at all.
    code: DicomProblem | None = None

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass(slots=True)
class ImportSummary:
    """Counts of one import."""

    stored: int = 0
    #: Instances whose SOP Instance UID was already stored.
    duplicates: int = 0
    #: DICOMDIR index files passed over.
    skipped: int = 0
    failures: list[ImportFailure] = field(default_factory=list)
    #: Study Instance UIDs of newly stored instances.
    studies: set[str] = field(default_factory=set)


def iter_import_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Yield the named files and every file below the named folders, sorted.

    :raises FileNotFoundError: naming a path that does not exist.
    """
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file())
        elif path.exists():
            yield path
        else:
            raise FileNotFoundError(f"`{path}` does not exist.")


def import_files(
    store: InstanceStore,
    files: Iterable[Path],
    *,
    force: bool = False,
    progress: Callable[[ImportSummary], None] | None = None,
) -> ImportSummary:
    """Store each file as an instance and count what happened.

    :param force: also accept data sets without the 128-byte preamble and
        ``DICM`` prefix; they are stored rewrapped as Part 10 files.
    :param progress: called after each file with the running summary.
    """
    summary = ImportSummary()
    origin = Origin(cli_user(), IMPORT_FILES)  # files are imported by whoever runs the command
    for path in files:
        if path.name.upper() == _DICOMDIR:
            summary.skipped += 1
        else:
            try:
                receipt = import_file(store, path, force=force, origin=origin)
            except InvalidDicomError as exc:
                summary.failures.append(ImportFailure(path, exc.reason, exc.code))
            except OSError as exc:
                summary.failures.append(ImportFailure(path, f"The file could not be read: {exc.strerror or exc}."))
            else:
                if receipt.duplicate:
                    summary.duplicates += 1
                else:
                    summary.stored += 1
                    summary.studies.add(receipt.header.study_instance_uid)
        if progress is not None:
            progress(summary)
    return summary


def import_file(store: InstanceStore, path: Path, *, force: bool = False, origin: Origin | None = None) -> Receipt:
    """Store one file.

    :raises InvalidDicomError: if it is not an acceptable DICOM instance.
    :raises OSError: if it cannot be read.
    """
    data = path.read_bytes()
    if force and data[_PREAMBLE : _PREAMBLE + 4] != b"DICM":
        data = _as_part10(data)
    return store.receive(data, source="import", quarantine=False, origin=origin or Origin(cli_user(), IMPORT_FILES))


def _as_part10(data: bytes) -> bytes:
    """Wrap a bare data set in a preamble and File Meta Information.

    The header is validated first, so only a readable instance is rewritten;
    Pixel Data is copied as bytes, never decoded.
    """
    header = read_instance_header(data, force=True)
    ds = dcmread(io.BytesIO(data), force=True)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(header.sop_class_uid)
    meta.MediaStorageSOPInstanceUID = UID(header.sop_instance_uid)
    meta.TransferSyntaxUID = UID(header.transfer_syntax_uid)
    ds.file_meta = meta
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # Legacy files carry values pydicom warns about when writing them back.
        warnings.simplefilter("ignore", UserWarning)
        dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()
