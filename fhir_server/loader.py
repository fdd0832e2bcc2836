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

import orjson

_UUID_URN = re.compile(r"urn:uuid:([0-9a-fA-F-]{36})")


class LoadError(Exception):
    """A file could not be read as FHIR; the message names the file and the reason."""


@dataclass(frozen=True, slots=True)
class BundleGroup:
    """A batch or transaction Bundle, processed as over HTTP (``POST [base]``)."""

    bundle: dict[str, Any]
    origin: str


@dataclass(frozen=True, slots=True)
class LoadItem:
    """One resource to store, and where it came from (for error messages)."""

    resource: dict[str, Any]
    origin: str


def iter_files(paths: list[Path]) -> Iterator[Path]:
    """Files named, and the ``.json``/``.ndjson`` files inside named folders, sorted."""
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.suffix in (".json", ".ndjson") and p.is_file())
        elif path.exists():
            yield path
        else:
            raise LoadError(f"{path}: no such file or directory")


def read_groups(path: Path) -> Iterator[list[LoadItem] | BundleGroup | LoadError]:
    """The resources of one file, grouped so each group is stored atomically.

    A batch or transaction Bundle is a :class:`BundleGroup`; a collection Bundle is
    one group; an NDJSON file is one group per line. A line that cannot be read is
    yielded as its :class:`LoadError` so later lines still load.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise LoadError(f"{path}: {exc.strerror}") from exc
    if path.suffix == ".ndjson":
        for number, line in enumerate(raw.splitlines(), start=1):
            if line.strip():
                origin = f"{path}:{number}"
                try:
                    yield [LoadItem(_parse(line, origin), origin)]
                except LoadError as exc:
                    yield exc
        return
    document = _parse(raw, str(path))
    if document.get("resourceType") == "Bundle" and document.get("type") in ("transaction", "batch"):
        yield BundleGroup(document, str(path))
    elif document.get("resourceType") == "Bundle" and document.get("type") == "collection":
        yield list(_bundle_items(document, str(path)))
    else:
        yield [LoadItem(document, str(path))]


def _parse(raw: bytes, origin: str) -> dict[str, Any]:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise LoadError(f"{origin}: not valid JSON ({exc})") from exc
    if not isinstance(value, dict) or "resourceType" not in value:
        raise LoadError(f"{origin}: not a FHIR resource (no `resourceType`)")
    return value


def _bundle_items(bundle: dict[str, Any], origin: str) -> Iterator[LoadItem]:
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
            raise LoadError(f"{origin}: entry {index} has no resource")
        if entry.get("fullUrl") in targets:
            resource = {**resource, "id": targets[entry["fullUrl"]].split("/", 1)[1]}
        if targets:
            resource = _rewrite_references(resource, targets)
        yield LoadItem(resource, f"{origin} entry {index}")


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
