"""Content-addressed storage for received DICOM files, plus a quarantine for rejects.

Files live at ``root/ab/cd/<sha256>.dcm``: the name is the SHA-256 of the bytes,
so storing the same instance twice is a no-op, and two levels of 256-way fan-out
keep directories small. Every write goes to a temporary file in the target
directory, is fsynced, then renamed into place, and the directory is fsynced, so a
crash leaves either the whole file or nothing under the final name.

Rejected input goes to ``root/quarantine/`` with a JSON sidecar saying why, so an
operator can inspect it and replay it once the sender or the parser is fixed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import BinaryIO

__all__ = ["FileStore", "StoredFile"]

_SHA256 = re.compile(r"[0-9a-f]{64}")
QUARANTINE_DIR = "quarantine"


@dataclass(frozen=True, slots=True)
class StoredFile:
    """A file held by a :class:`FileStore`."""

    #: Lowercase hex SHA-256 of the content, also its name.
    sha256: str
    #: Where the file lives.
    path: Path
    #: Size in bytes.
    size: int


class FileStore:
    """A directory of files named by the SHA-256 of their content.

    :param root: the store's directory, created on first write.
    :param file_mode: permissions of stored files; the default keeps patient data
        away from other users on the host.
    """

    def __init__(self, root: Path, *, file_mode: int = 0o640) -> None:
        #: The store's directory.
        self.root = Path(root)
        #: Permission bits given to every stored and quarantined file.
        self.file_mode = file_mode

    def put(self, data: bytes) -> StoredFile:
        """Store *data* under its SHA-256 and return where it lives.

        Idempotent: identical content is written once; a later call only checks
        that the existing file has the expected size and rewrites it otherwise.
        """
        sha256 = hashlib.sha256(data).hexdigest()
        target = self.path(sha256)
        try:
            intact = target.stat().st_size == len(data)
        except FileNotFoundError:
            intact = False
        if not intact:
            # Concurrent writers of the same content race harmlessly: each renames
            # a complete copy of identical bytes over the same name.
            self._write_atomically(target, data)
        return StoredFile(sha256=sha256, path=target, size=len(data))

    def path(self, sha256: str) -> Path:
        """Return where the file with this SHA-256 lives (or would live).

        :raises ValueError: if *sha256* is not 64 lowercase hex digits, which also
            rules out path traversal through the argument.
        """
        if not _SHA256.fullmatch(sha256):
            raise ValueError(f"`{sha256}` is not a lowercase hex SHA-256 digest.")
        return self.root / sha256[0:2] / sha256[2:4] / f"{sha256}.dcm"

    def open(self, sha256: str) -> BinaryIO:
        """Open the stored file with this SHA-256 for binary reading.

        :raises FileNotFoundError: if the store holds no such file.
        :raises ValueError: if *sha256* is not a valid digest.
        """
        target = self.path(sha256)
        try:
            return target.open("rb")
        except FileNotFoundError:
            raise FileNotFoundError(f"No file with SHA-256 `{sha256}` is stored in `{self.root}`.") from None

    def __contains__(self, sha256: object) -> bool:
        """Return whether a file with this SHA-256 is stored."""
        return isinstance(sha256, str) and _SHA256.fullmatch(sha256) is not None and self.path(sha256).is_file()

    def quarantine(self, data: bytes, reason: str, *, context: Mapping[str, str] | None = None) -> Path:
        """Keep rejected *data* with a JSON sidecar giving *reason*; return the data's path.

        Each call makes a new entry, named ``<UTC time>-<sha256 prefix>-<random>``
        so entries sort by arrival, even for the same bytes rejected twice.

        :param context: extra facts for the sidecar, e.g. the calling AE title.
        """
        sha256 = hashlib.sha256(data).hexdigest()
        received = datetime.now(UTC)
        stem = f"{received:%Y%m%dT%H%M%S%fZ}-{sha256[:16]}-{uuid.uuid4().hex[:8]}"
        directory = self.root / QUARANTINE_DIR
        data_path = directory / f"{stem}.dcm"
        sidecar = {
            "reason": reason,
            "sha256": sha256,
            "size": len(data),
            "received": received.isoformat(),
            "context": dict(context or {}),
        }
        self._write_atomically(data_path, data)
        # Written second, so a sidecar always describes bytes that are there.
        self._write_atomically(directory / f"{stem}.json", json.dumps(sidecar, indent=2).encode("utf-8"))
        return data_path

    def _write_atomically(self, target: Path, data: bytes) -> None:
        _make_directories(target.parent)
        # The temporary file shares the target's directory so the rename stays on
        # one filesystem and is atomic.
        fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fchmod(out.fileno(), self.file_mode)
                os.fsync(out.fileno())
            Path(temp_name).replace(target)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
        _fsync_directory(target.parent)


def _make_directories(directory: Path) -> None:
    """Create *directory* and its missing parents, syncing each new directory entry."""
    missing = []
    current = directory
    while not current.exists():
        missing.append(current)
        current = current.parent
    directory.mkdir(parents=True, exist_ok=True)
    for created in reversed(missing):
        _fsync_directory(created.parent)


def _fsync_directory(directory: Path) -> None:
    """Persist a rename: POSIX only guarantees it once the directory is synced."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
