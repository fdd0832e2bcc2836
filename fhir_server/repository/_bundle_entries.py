"""Reading the entries of a batch or transaction Bundle, and rewriting their references.

http://hl7.org/fhir/R4/http.html#transaction. Pure: no database. Each entry's
``request`` becomes an :class:`Entry` saying what to do to which resource;
:func:`rewrite_references` replaces ``fullUrl``s (``urn:uuid:``, ``urn:oid:`` or
absolute URLs) with the ``Type/id`` each entry resolved to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from fhir_server.errors import BadRequest, EntryFailed, FhirError
from fhir_server.repository.protocol import StoredResource
from fhir_server.repository.sql import check_id, check_resource_type

#: The processing order of http.html#trules; GET and HEAD come last.
ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 2, "GET": 3, "HEAD": 3}
_PLACEHOLDER = re.compile(r"urn:(uuid|oid):\S+")
_NARRATIVE_LINK = re.compile(r'((?:href|src)=")(urn:(?:uuid|oid):[^"]+)(")')


@dataclass
class Entry:
    """One entry of the request Bundle, parsed."""

    index: int
    method: str
    url: str
    resource_type: str
    #: From the URL: ``Type/[id]``; ``None`` for a type-level request.
    resource_id: str | None
    version_id: str | None
    #: The query string of a search or a conditional request, without ``?``.
    query: str
    resource: dict[str, Any] | None
    full_url: str | None
    request: dict[str, Any]
    #: The id this entry acts on once resolved (assigned for a create).
    target_id: str | None = None
    #: A conditional create that matched: nothing is written.
    matched: bool = False
    #: What a conditional create matched, or a conditional delete's matches.
    found: list[StoredResource] = field(default_factory=list)

    @property
    def request_line(self) -> str:
        return f"{self.method} {self.url}"

    @property
    def conditional(self) -> bool:
        return self.resource_id is None and bool(self.query) and self.method in ("PUT", "PATCH", "DELETE")

    def failed(self, error: FhirError) -> EntryFailed:
        """``error`` as the failure of this entry."""
        return error if isinstance(error, EntryFailed) else EntryFailed(self.index, self.request_line, error)


def relative_url(url: str, base_url: str) -> str:
    """``url`` without the server's base, so ``http://host/fhir/Patient/1`` becomes ``Patient/1``."""
    for base in (base_url.rstrip("/") + "/", "/"):
        if url.startswith(base):
            return url[len(base) :]
    return url


def parse_entry(index: int, raw: Any, base_url: str) -> Entry:
    """Read one ``Bundle.entry``.

    :raises EntryFailed: naming the entry, when its request cannot be understood.
    """
    request = raw.get("request") if isinstance(raw, dict) else None
    line = f"{(request or {}).get('method', '?')} {(request or {}).get('url', '?')}"
    try:
        return _parse(index, raw, request, base_url)
    except FhirError as exc:
        raise EntryFailed(index, line, exc) from exc


def _parse(index: int, raw: Any, request: Any, base_url: str) -> Entry:
    if (
        not isinstance(request, dict)
        or not isinstance(request.get("method"), str)
        or not isinstance(request.get("url"), str)
    ):
        raise BadRequest("The entry has no `request` with a `method` and a `url`.", expression="request")
    method = request["method"].upper()
    if method not in ORDER:
        raise BadRequest(f"`{method}` is not an HTTP method a Bundle entry may use.", expression="request.method")
    path, _, query = relative_url(request["url"], base_url).partition("?")
    parts = [p for p in path.split("/") if p]
    if not parts or len(parts) == 3 or len(parts) > 4 or (len(parts) == 4 and parts[2] != "_history"):
        raise BadRequest(
            f"The request url `{request['url']}` is not `Type`, `Type/id`, `Type/id/_history/vid` or `Type?criteria`."
        )
    check_resource_type(parts[0])
    resource_id = parts[1] if len(parts) > 1 else None
    if resource_id is not None:
        check_id(resource_id)
    resource = raw.get("resource")
    if resource is not None and not isinstance(resource, dict):
        raise BadRequest("The entry's `resource` is not a JSON object.", expression="resource")
    entry = Entry(
        index,
        method,
        request["url"],
        parts[0],
        resource_id,
        parts[3] if len(parts) == 4 else None,
        query,
        resource,
        raw.get("fullUrl"),
        request,
    )
    _check_shape(entry)
    return entry


def _check_shape(entry: Entry) -> None:
    method, resource = entry.method, entry.resource
    if method in ("POST", "PUT") and resource is None:
        raise BadRequest(f"A `{method}` entry needs a `resource`.", expression="resource")
    if method == "POST" and entry.resource_id is not None:
        raise BadRequest("A `POST` entry's url must be the resource type alone.")
    if method in ("POST", "PUT") and resource is not None and resource.get("resourceType") != entry.resource_type:
        raise BadRequest(
            f"The entry's resource is a `{resource.get('resourceType')}`, but its url names `{entry.resource_type}`.",
            expression="resourceType",
        )
    if method in ("PUT", "PATCH", "DELETE") and entry.resource_id is None and not entry.query:
        raise BadRequest(f"A `{method}` entry's url needs an id or search criteria.")
    if method == "PATCH" and resource is None:
        raise BadRequest("A `PATCH` entry needs a `resource`: a Binary holding a JSON Patch, or a Parameters.")


def check_full_urls(entries: list[Any]) -> None:
    """:raises BadRequest: when two entries share a ``fullUrl`` (invariant bdl-7)."""
    seen: dict[str, int] = {}
    for index, raw in enumerate(entries):
        full_url = raw.get("fullUrl") if isinstance(raw, dict) else None
        if not full_url:
            continue
        if full_url in seen:
            raise BadRequest(
                f"Bundle entries {seen[full_url]} and {index} have the same fullUrl `{full_url}`; fullUrls must be unique.",
                expression=f"Bundle.entry[{index}].fullUrl",
            )
        seen[full_url] = index


def conditional_references(value: Any) -> set[str]:
    """Every ``Type?criteria`` reference in ``value``."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            reference = node.get("reference")
            if isinstance(reference, str) and "?" in reference and "/" not in reference.partition("?")[0]:
                found.add(reference)
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(value)
    return found


def rewrite_references(value: Any, targets: dict[str, str]) -> Any:
    """``value`` with every reference to a key of ``targets`` replaced by its ``Type/id``.

    ``Reference.reference`` values are replaced for any fullUrl; other strings (``uri``,
    ``url``, ``oid``, ``uuid`` elements and narrative links) only for ``urn:`` placeholders,
    which cannot mean anything but the entry.

    :raises BadRequest: for a ``urn:uuid:``/``urn:oid:`` reference no entry defines.
    """
    if isinstance(value, dict):
        out = {}
        for key, child in value.items():
            if key == "reference" and isinstance(child, str) and child in targets:
                out[key] = targets[child]
            elif key == "reference" and isinstance(child, str) and _PLACEHOLDER.fullmatch(child):
                raise BadRequest(f"The reference `{child}` names no entry of this Bundle by its fullUrl.")
            elif key == "div" and isinstance(child, str):
                out[key] = _NARRATIVE_LINK.sub(
                    lambda m: m.group(1) + targets.get(m.group(2), m.group(2)) + m.group(3), child
                )
            else:
                out[key] = rewrite_references(child, targets)
        return out
    if isinstance(value, list):
        return [rewrite_references(child, targets) for child in value]
    if isinstance(value, str) and value in targets and _PLACEHOLDER.fullmatch(value):
        return targets[value]
    return value
