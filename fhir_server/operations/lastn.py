"""Observation ``$lastn``: the most recent ``max`` Observations per patient and code.

http://hl7.org/fhir/R4/observation-operation-lastn.html. The criteria are those of
an Observation search (``patient`` or ``subject`` required; ``category``, ``code``,
``date``...); the matches are read newest first by ``date`` and grouped by subject
and ``Observation.code`` (its codings, or its text when it has none).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from fhir_server.errors import BadRequest
from fhir_server.repository.protocol import StoredResource
from fhir_server.search.query import SortKey, parse_query

if TYPE_CHECKING:
    from fhir_server.repository.sql import SqlRepository

OPERATION_DEFINITION = "http://hl7.org/fhir/OperationDefinition/Observation-lastn"
#: Observations read at most per request; a larger match set is refused rather than truncated.
MAX_SCANNED = 10_000
_PAGE = 1000


def parse_max(value: str | None) -> int:
    """The ``max`` in-parameter: a positiveInt, 1 when absent."""
    if value is None or value == "":
        return 1
    if not value.isdigit() or int(value) < 1:
        raise BadRequest(f"`max={value}` is not a positive integer.")
    return int(value)


def _code_key(resource: dict[str, Any]) -> tuple[Any, ...]:
    code = resource.get("code") or {}
    codings = tuple(sorted((c.get("system") or "", c.get("code") or "") for c in code.get("coding") or []))
    return codings or (("text", code.get("text") or ""),)


def lastn(repo: SqlRepository, pairs: list[tuple[str, str]], maximum: int, *, base_url: str) -> list[StoredResource]:
    """The newest ``maximum`` Observations of each (subject, code) group matching ``pairs``.

    :raises BadRequest: without ``patient``/``subject``, or when more than :data:`MAX_SCANNED` match.
    """
    names = {name.split(":")[0] for name, _ in pairs}
    if not names & {"patient", "subject"}:
        raise BadRequest("$lastn needs a `patient` or `subject` parameter naming whose Observations to return.")
    query = parse_query([p for p in pairs if p[0] not in ("_sort", "_count")])
    query.sort = [SortKey("date", True)]
    groups: dict[tuple[Any, ...], int] = {}
    chosen: list[StoredResource] = []
    scanned = 0
    while True:
        result = repo.search(["Observation"], query, base_url=base_url, page_size=_PAGE, strict=True)
        for stored in result.matches:
            resource = orjson.loads(stored.content or b"{}")
            key = ((resource.get("subject") or {}).get("reference"), _code_key(resource))
            if groups.get(key, 0) < maximum:
                groups[key] = groups.get(key, 0) + 1
                chosen.append(stored)
        scanned += len(result.matches)
        if not result.next_cursor:
            return chosen
        if scanned >= MAX_SCANNED:
            raise BadRequest(
                f"$lastn matched more than {MAX_SCANNED} Observations; narrow it with `category`, `code` or `date`."
            )
        query.cursor = result.next_cursor
