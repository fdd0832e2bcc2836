"""Bundles built around stored resource bytes (spliced in, never re-parsed)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlencode

import orjson

from conformance import fhir_json
from fhir_server.repository import HistoryPage, StoredResource, format_instant

#: Response status text a history entry records for each kind of version.
_HISTORY_STATUS = {"POST": "201 Created", "PUT": "200 OK", "PATCH": "200 OK", "DELETE": "204 No Content"}


def page_url(base: str, path: str, params: dict[str, str | None] | list[tuple[str, str]]) -> str:
    """An absolute URL for a page of results."""
    items = params.items() if isinstance(params, dict) else params
    query = urlencode([(k, v) for k, v in items if v is not None])
    return f"{base}/{path}" + (f"?{query}" if query else "")


def history_entry(base: str, stored: StoredResource) -> dict[str, Any]:
    """One ``Bundle.entry`` of a history Bundle."""
    entry: dict[str, Any] = {"fullUrl": f"{base}/{stored.reference}"}
    if stored.content is not None:
        entry["resource"] = orjson.Fragment(stored.content)
    entry["request"] = {
        "method": stored.method,
        "url": stored.resource_type if stored.method == "POST" else stored.reference,
    }
    entry["response"] = {
        "status": _HISTORY_STATUS.get(stored.method, "200 OK"),
        "etag": stored.etag,
        "lastModified": format_instant(stored.last_updated),
    }
    return entry


def history_bundle(base: str, page: HistoryPage, self_url: str, next_url: str | None) -> bytes:
    """A ``history`` Bundle (http://hl7.org/fhir/R4/http.html#history)."""
    links = [{"relation": "self", "url": self_url}]
    if next_url:
        links.append({"relation": "next", "url": next_url})
    bundle = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": format_instant(datetime.now(UTC))},
        "type": "history",
        "link": links,
        "entry": [history_entry(base, stored) for stored in page.entries],
    }
    return fhir_json.dumps(bundle)


def http_date(moment: datetime) -> str:
    """An HTTP-date (second precision, GMT)."""
    return format_datetime(moment.replace(microsecond=0), usegmt=True)


def searchset_bundle(
    base: str,
    matches: list[StoredResource],
    includes: list[StoredResource],
    links: dict[str, str],
    total: int | None,
    render: Any,
    outcome: dict[str, Any] | None = None,
) -> bytes:
    """A ``searchset`` Bundle (http://hl7.org/fhir/R4/search.html#return).

    :param render: turns a stored resource into its entry body (bytes or a dict),
        applying ``_summary``/``_elements``.
    """
    entries: list[dict[str, Any]] = []
    for mode, group in (("match", matches), ("include", includes)):
        for stored in group:
            body = render(stored)
            entries.append(
                {
                    "fullUrl": f"{base}/{stored.reference}",
                    "resource": orjson.Fragment(body) if isinstance(body, bytes) else body,
                    "search": {"mode": mode},
                }
            )
    if outcome is not None:
        entries.append({"resource": outcome, "search": {"mode": "outcome"}})
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": format_instant(datetime.now(UTC))},
        "type": "searchset",
    }
    if total is not None:
        bundle["total"] = total
    bundle["link"] = [{"relation": relation, "url": url} for relation, url in links.items()]
    bundle["entry"] = entries
    return fhir_json.dumps(bundle)
