"""Tests for the content-addressed file store (``adapters.dicom.filestore``)."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from typing import TYPE_CHECKING

import pytest

from adapters.dicom import FileStore, StoredFile

if TYPE_CHECKING:
    from pathlib import Path

DATA = b"DICM-ish bytes for the store"
SHA = hashlib.sha256(DATA).hexdigest()


def _leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(".part")]


def test_put_writes_under_the_digest(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "store")
    stored = store.put(DATA)
    assert stored == StoredFile(sha256=SHA, path=tmp_path / "store" / SHA[:2] / SHA[2:4] / f"{SHA}.dcm", size=len(DATA))
    assert stored.path.read_bytes() == DATA
    assert stat.S_IMODE(stored.path.stat().st_mode) == 0o640
    assert store.path(SHA) == stored.path
    assert SHA in store
    assert "0" * 64 not in store
    assert "nonsense" not in store
    with store.open(SHA) as fp:
        assert fp.read() == DATA
    assert _leftovers(tmp_path) == []


def test_put_is_idempotent(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    first = store.put(DATA)
    inode = first.path.stat().st_ino
    assert store.put(DATA) == first
    assert first.path.stat().st_ino == inode  # not rewritten
    other = store.put(DATA + b"!")
    assert other.path != first.path
    assert sorted(p.name for p in tmp_path.rglob("*.dcm")) == sorted([first.path.name, other.path.name])


def test_put_repairs_a_damaged_copy(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    stored = store.put(DATA)
    stored.path.write_bytes(DATA[:5])
    store.put(DATA)
    assert stored.path.read_bytes() == DATA


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_failed_write_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str) -> None:
    def fail(*args: object) -> None:
        raise OSError(f"simulated {failing} failure")

    monkeypatch.setattr(os, failing, fail)
    store = FileStore(tmp_path)
    with pytest.raises(OSError, match="simulated"):
        store.put(DATA)
    monkeypatch.undo()
    assert not store.path(SHA).exists()
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("digest", ["../../etc/passwd", SHA.upper(), SHA[:-1], ""])
def test_rejects_malformed_digests(tmp_path: Path, digest: str) -> None:
    with pytest.raises(ValueError, match="is not a lowercase hex SHA-256 digest"):
        FileStore(tmp_path).path(digest)


def test_open_missing_names_the_digest(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=f"No file with SHA-256 `{SHA}` is stored"):
        FileStore(tmp_path).open(SHA)


def test_quarantine_keeps_bytes_and_reason(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    first = store.quarantine(
        DATA, "Required attribute SOPInstanceUID (0008,0018) is missing.", context={"ae": "MODALITY1"}
    )
    second = store.quarantine(DATA, "Another reason.")
    assert first != second  # every rejection gets its own entry
    assert first.parent == tmp_path / "quarantine"
    assert first.read_bytes() == DATA
    sidecar = json.loads(first.with_suffix(".json").read_text())
    assert sidecar["reason"] == "Required attribute SOPInstanceUID (0008,0018) is missing."
    assert (sidecar["sha256"], sidecar["size"], sidecar["context"]) == (SHA, len(DATA), {"ae": "MODALITY1"})
    assert sidecar["received"].endswith("+00:00")
    assert SHA not in store  # quarantined bytes are not stored content
    assert _leftovers(tmp_path) == []
