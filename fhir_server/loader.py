"""Reading FHIR files for ``fhir-server load``: JSON resources, Bundles and NDJSON.

Transaction and batch Bundles go through the same bundle processor as ``POST
[base]``. Collection Bundles refer to their entries by ``urn:uuid:`` fullUrls; each
such entry is stored under that UUID as its id and every reference to it is
rewritten to ``Type/uuid``, so the loaded graph links up.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance import fhir_json

_UUID_URN = re.compile(r"urn:uuid:([0-9a-fA-F-]{36})")


class LoadError(Exception):
    """A file, line or entry could not be read as FHIR; the message names the file and the reason.

    :param file: the file; ``where`` in it (``line 3``, ``entry 2``), if not the whole file.
    :param reason: the category an import report counts, e.g. ``not valid JSON``.
    :param detail: what is wrong, without the location.
    """

    def __init__(
        self, file: object, detail: str, *, where: str | None = None, reason: str = "file not readable"
    ) -> None:
        self.file, self.where, self.reason, self.detail = str(file), where, reason, detail
        super().__init__(f"{self.file}{f' {where}' if where else ''}: {detail}")


@dataclass(frozen=True, slots=True)
class BundleGroup:
    """A batch or transaction Bundle, processed as over HTTP (``POST [base]``)."""

    bundle: dict[str, Any]
    origin: str


@dataclass(frozen=True, slots=True)
class LoadItem:
    """One resource to store, and where it came from (for error messages): its file, line or entry."""

    resource: dict[str, Any]
    file: str
    where: str | None = None


def iter_files(paths: list[Path]) -> Iterator[Path]:
    """Files named, and the ``.json``/``.ndjson`` files inside named folders, sorted."""
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.suffix in (".json", ".ndjson") and p.is_file())
        elif path.exists():
            yield path
        else:
            raise LoadError(path, "no such file or directory")


def read_groups(path: Path) -> Iterator[list[LoadItem] | BundleGroup | LoadError]:
    """The resources of one file, grouped so each group is stored atomically.

    A batch or transaction Bundle is a :class:`BundleGroup`; a collection Bundle is
    one group; an NDJSON file is one group per line. A line (or collection entry)
    that cannot be read is yielded as its :class:`LoadError` so the others still load.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise LoadError(path, str(exc.strerror)) from exc
    if path.suffix == ".ndjson":
        for number, line in enumerate(raw.splitlines(), start=1):
            if line.strip():
                try:
                    yield [LoadItem(_parse(line, path, f"line {number}"), str(path), f"line {number}")]
                except LoadError as exc:
                    yield exc
        return
    document = _parse(raw, path)
    if document.get("resourceType") == "Bundle" and document.get("type") in ("transaction", "batch"):
        yield BundleGroup(document, str(path))
    elif document.get("resourceType") == "Bundle" and document.get("type") == "collection":
        items = list(_bundle_items(document, str(path)))
        yield [item for item in items if isinstance(item, LoadItem)]
        yield from (item for item in items if isinstance(item, LoadError))
    else:
        yield [LoadItem(document, str(path))]


def _parse(raw: bytes, path: Path, where: str | None = None) -> dict[str, Any]:
    try:
        value = fhir_json.loads(raw)
    except fhir_json.JSONDecodeError as exc:
        raise LoadError(path, f"not valid JSON ({exc})", where=where, reason="not valid JSON") from exc
    if not isinstance(value, dict) or "resourceType" not in value:
        raise LoadError(path, "not a FHIR resource (no `resourceType`)", where=where, reason="not a FHIR resource")
    return value


def _bundle_items(bundle: dict[str, Any], origin: str) -> Iterator[LoadItem | LoadError]:
    entries = bundle.get("entry") or []
    targets = {}
    for entry in entries:
        match = _UUID_URN.fullmatch(entry.get("fullUrl", ""))
        resource = entry.get("resource") or {}
        if match and "resourceType" in resource:
            targets[entry["fullUrl"]] = f"{resource['resourceType']}/{match.group(1).lower()}"
    for index, entry in enumerate(entries):
        resource = entry.get("resource")
        if not isinstance(resource, dict):
            yield LoadError(
                origin, "the entry has no resource", where=f"entry {index}", reason="entry without a resource"
            )
            continue
        if entry.get("fullUrl") in targets:
            resource = {**resource, "id": targets[entry["fullUrl"]].split("/", 1)[1]}
        if targets:
            resource = _rewrite_references(resource, targets)
        yield LoadItem(resource, origin, f"entry {index}")


def _rewrite_references(value: Any, targets: dict[str, str]) -> Any:
    if isinstance(value, dict):
        rewritten = {k: _rewrite_references(v, targets) for k, v in value.items()}
        reference = rewritten.get("reference")
        if isinstance(reference, str) and reference in targets:
            rewritten["reference"] = targets[reference]
        return rewritten
    if isinstance(value, list):
        return [_rewrite_references(v, targets) for v in value]
    return value
