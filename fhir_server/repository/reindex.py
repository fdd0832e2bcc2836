"""Rebuilding search-index rows from stored resources (after new or changed SearchParameters).

Batches are keyset-paged on the resource row key and each batch is one unit of
work, so a reindex can be interrupted and run again.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import false, func, select

from conformance import fhir_json
from fhir_server.repository import _statements as sql
from fhir_server.repository.sql import SqlRepository

_resource = sql.resource


@dataclass(frozen=True, slots=True)
class ReindexBatch:
    """What one batch did: resources reindexed, and where the next batch starts."""

    count: int
    last_pk: int | None


def count_resources(repo: SqlRepository, resource_type: str | None) -> int:
    """How many current resources a reindex of ``resource_type`` (or all) will visit."""
    query = select(func.count()).select_from(_resource).where(_resource.c.deleted == false())
    if resource_type:
        query = query.where(_resource.c.resource_type == resource_type)
    return int(repo.session.execute(query).scalar_one())


def reindex_batch(repo: SqlRepository, resource_type: str | None, after_pk: int, size: int = 500) -> ReindexBatch:
    """Re-extract and replace the index rows of up to ``size`` resources after ``after_pk``."""
    query = (
        select(_resource.c.pk, _resource.c.resource_type, _resource.c.content)
        .where(_resource.c.pk > after_pk, _resource.c.deleted == false())
        .order_by(_resource.c.pk)
        .limit(size)
    )
    if resource_type:
        query = query.where(_resource.c.resource_type == resource_type)
    rows = repo.session.execute(query).all()
    connection = repo.session.connection()
    for row in rows:
        sql.replace_index(connection, row.pk, row.resource_type, repo.index_values(fhir_json.loads(row.content)))
    return ReindexBatch(len(rows), rows[-1].pk if rows else None)
