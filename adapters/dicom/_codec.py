"""Serialise an :class:`~adapters.dicom.headers.InstanceHeader` to JSON and back.

The instance table keeps each header as JSON so the publisher can rebuild an
ImagingStudy from the database alone. Unknown keys are ignored on the way back,
so rows written before a header field was added still load.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson

from adapters.dicom.headers import InstanceHeader, Issuer, PersonName

_FIELDS = {f.name for f in dataclasses.fields(InstanceHeader)}
_ISSUERS = ("issuer_of_patient_id", "accession_number_issuer")
_NAMES = ("patient_name", "referring_physician_name")


def header_to_json(header: InstanceHeader) -> bytes:
    """Return *header* as compact JSON bytes; empty fields are left out."""
    data = {key: value for key, value in dataclasses.asdict(header).items() if value is not None}
    return orjson.dumps(data)


def header_from_json(raw: bytes) -> InstanceHeader:
    """Rebuild the header stored by :func:`header_to_json`.

    :raises ValueError: if *raw* is not JSON holding the required UIDs.
    """
    data: dict[str, Any] = {key: value for key, value in orjson.loads(raw).items() if key in _FIELDS}
    for key in _ISSUERS:
        if data.get(key) is not None:
            data[key] = Issuer(**data[key])
    for key in _NAMES:
        if data.get(key) is not None:
            # JSON holds the name's tuples as lists.
            parts: dict[str, Any] = {part: tuple(v) if isinstance(v, list) else v for part, v in data[key].items()}
            data[key] = PersonName(**parts)
    try:
        return InstanceHeader(**data)
    except TypeError as exc:
        raise ValueError(f"A stored DICOM header lacks a required field: {exc}") from exc
