"""Read a FHIR reference string: which resource type and id it points to, or which URL.

Shared by the FHIRPath compiler (``resolve() is Patient``) and the reference
index (http://hl7.org/fhir/R4/references.html#literal). The shapes:

* ``Patient/123`` and ``Patient/123/_history/2``: a local reference;
* ``https://example.org/fhir/Patient/123``: an absolute URL, whose last two
  segments still name a type and id;
* ``urn:uuid:...`` and ``urn:oid:...``: a URL only (a transaction's placeholder);
* ``#p1``: a contained resource, not indexed;
* ``Patient?identifier=x``: a conditional reference, resolved by the transaction
  before indexing, and not indexed when left unresolved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from conformance.resource_types import is_resource_type

__all__ = ["ParsedReference", "parse_reference", "reference_type"]

_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_HISTORY = re.compile(r"/_history/[^/]*$")


@dataclass(frozen=True, slots=True)
class ParsedReference:
    """The parts of one reference string."""

    target_type: str | None
    target_id: str | None
    #: The absolute URL (``urn:uuid:``, ``https://...``), ``None`` for a local reference.
    url: str | None


def _type_and_id(path: str) -> tuple[str | None, str | None]:
    parts = path.rstrip("/").rsplit("/", 2)
    if len(parts) >= 2 and is_resource_type(parts[-2]) and _ID.match(parts[-1]):
        return parts[-2], parts[-1]
    return None, None


@lru_cache(maxsize=65536)
def parse_reference(text: str) -> ParsedReference | None:
    """Split a reference string into type, id and URL; ``None`` when it cannot be indexed.

    :param text: ``Reference.reference`` as written.
    """
    text = text.strip()
    if not text or text.startswith("#") or "?" in text:
        return None
    if text.startswith(("urn:uuid:", "urn:oid:")):
        return ParsedReference(None, None, text)
    path = _HISTORY.sub("", text)
    target_type, target_id = _type_and_id(path)
    if "://" in path:
        return ParsedReference(target_type, target_id, path)
    if target_type is None:
        return ParsedReference(None, None, path)  # an unusual relative form: keep it searchable as written
    return ParsedReference(target_type, target_id, None)


def reference_type(text: str) -> str | None:
    """Return the resource type a reference string names, if any (``Patient/1`` → ``Patient``)."""
    head, query, _ = text.partition("?")
    if query or text.endswith("?"):
        # A conditional reference still names its type: `Practitioner?identifier=...`.
        return head if is_resource_type(head) else None
    parsed = parse_reference(text)
    return parsed.target_type if parsed is not None else None
