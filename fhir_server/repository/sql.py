"""SQLAlchemy implementation of :class:`FhirRepository`: the only code that writes resources.

Write path, identical for every writer: validate -> access check -> assign id and
version -> stamp ``meta`` -> store current row and history row. Reads return the
stored bytes untouched, so no pydantic model is ever built on the way out.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, false, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from conformance.issues import ValidationIssue
from conformance.resource_types import R4_RESOURCE_TYPES
from conformance.search_parameters import SearchRegistry
from conformance.validation import validate_resource
from fhir_server.db import begin_write
from fhir_server.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    Gone,
    InvalidResource,
    NotFound,
    PreconditionFailed,
)
from fhir_server.repository import _statements as sql
from fhir_server.repository._batch_write import PendingWrite, write_batch
from fhir_server.repository._reach import planner_for, reach_condition, reachable
from fhir_server.repository._rules import check_id, check_resource_type, same_content, stamp, utc
from fhir_server.repository._search import SearchResult, run_search
from fhir_server.repository.context import AccessPolicy, AllowAll, RequestContext
from fhir_server.repository.hooks import record_write
from fhir_server.repository.protocol import (
    HistoryPage,
    StoredResource,
    WriteResult,
)
from fhir_server.repository.registry_sync import registry_for, search_parameter_issues
from fhir_server.search.index_values import IndexValue, ReferenceValue
from fhir_server.search.params._context import PlanContext
from fhir_server.search.query import SearchQuery
from fhir_server.search.sort_values import search_index_values
from models import ResourceHistory, ResourceRow


class SqlRepository:
    """FHIR repository on one SQLAlchemy session owned by the caller."""

    def __init__(
        self,
        session: Session,
        context: RequestContext | None = None,
        access: AccessPolicy | None = None,
        registry: SearchRegistry | None = None,
    ) -> None:
        self.session = session
        self.context = context or RequestContext()
        self.access: AccessPolicy = access or AllowAll()
        #: Search parameters whose values are indexed on every write: the official ones and the
        #: database's active custom SearchParameters, as this process last saw them.
        self.registry = registry or registry_for(session)

    # -- validation -----------------------------------------------------------------

    def validate(self, resource: Any, *, resource_type: str | None = None) -> list[ValidationIssue]:
        """Every issue found in ``resource``; empty if it may be stored."""
        if not isinstance(resource, dict):
            return [
                ValidationIssue("error", "structure", "The body must be a JSON object holding a FHIR resource.", None)
            ]
        actual = resource.get("resourceType")
        if resource_type is not None and actual != resource_type:
            return [
                ValidationIssue(
                    "error",
                    "invalid",
                    f"The resource's `resourceType` is `{actual}`, but the URL names `{resource_type}`.",
                    "resourceType",
                )
            ]
        issues = validate_resource(resource)
        if actual == "SearchParameter":  # one that cannot be indexed would break every write of its base
            return issues + search_parameter_issues(self.session, resource, issues)
        return issues

    def _require_valid(self, resource: Any, resource_type: str | None = None) -> None:
        issues = [i for i in self.validate(resource, resource_type=resource_type) if i.severity in ("error", "fatal")]
        if issues:
            raise InvalidResource(issues)

    # -- writes ---------------------------------------------------------------------

    def create(
        self, resource: dict[str, Any], *, method: str = "POST", resource_id: str | None = None
    ) -> StoredResource:
        """Create with a new server-assigned id; any id in the body is ignored, as R4 requires.

        :param resource_id: the server-assigned id to use instead of a fresh UUID; a
            transaction assigns every id before its first write so entries can refer to each other.
        """
        self._require_valid(resource)
        resource_type = resource["resourceType"]
        self.access.check(self.context, "create", resource_type, resource)
        self._require_content_in_reach("create", resource_type, resource)
        begin_write(self.session)
        stored = self._insert_new(resource_type, resource_id or str(uuid.uuid4()), resource, method)
        if stored is None:
            raise Conflict(f"Resource `{resource_type}/{resource_id}` already exists, so it cannot be created again.")
        return stored

    def patch(
        self, resource_type: str, resource_id: str, patch: Any, media_type: str, *, if_match: int | None = None
    ) -> StoredResource:
        """Apply a JSON Patch or FHIRPath Patch and store the result (http://hl7.org/fhir/R4/http.html#patch)."""
        from fhir_server.repository._patch import patch_resource  # the patch languages load on first use

        return patch_resource(self, resource_type, resource_id, patch, media_type, if_match=if_match)

    def update(
        self,
        resource_type: str,
        resource_id: str,
        resource: dict[str, Any],
        *,
        if_match: int | None = None,
        method: str = "PUT",
        skip_unchanged: bool = False,
    ) -> WriteResult:
        """Write a new version, or create the resource with the client's id.

        :param skip_unchanged: when the content equals the current version (ignoring
            ``meta.versionId``/``lastUpdated``), keep that version instead of adding
            one; adapters re-processing the same input use this to stay idempotent.
        """
        check_resource_type(resource_type)
        check_id(resource_id)
        body_id = resource.get("id") if isinstance(resource, dict) else None
        if body_id is None:
            raise BadRequest("The resource in an update must have an `id`.", expression="id")
        if body_id != resource_id:
            raise BadRequest(
                f"The resource's id `{body_id}` does not match the id `{resource_id}` in the URL.", expression="id"
            )
        self._require_valid(resource, resource_type)
        self.access.check(self.context, "update", resource_type, resource)
        self._require_content_in_reach("update", resource_type, resource)
        begin_write(self.session)
        current = self._lock_current(resource_type, resource_id)
        if current is not None:
            self._require_stored_in_reach("update", resource_type, resource_id)
        if current is None:
            if if_match is not None:
                raise PreconditionFailed(
                    f"`{resource_type}/{resource_id}` does not exist, so If-Match version `{if_match}` cannot match."
                )
            created = self._insert_new(resource_type, resource_id, resource, method)
            if created is not None:
                return WriteResult(created, True)
            # Another writer created it between our check and insert: update that one instead.
            current = self._lock_current(resource_type, resource_id)
            if current is None:
                raise Conflict(f"`{resource_type}/{resource_id}` was created and removed concurrently; retry.")
        pk, version, deleted, content = current
        if if_match is not None and if_match != version:
            raise PreconditionFailed(
                f"`{resource_type}/{resource_id}` is at version `{version}`, not the If-Match version `{if_match}`."
            )
        if skip_unchanged and not deleted and same_content(content, resource):
            return WriteResult(self.read(resource_type, resource_id), False)
        stored = self._write_version(pk, resource_type, resource_id, version + 1, resource, method)
        return WriteResult(stored, False)

    def delete(self, resource_type: str, resource_id: str, *, if_match: int | None = None) -> StoredResource | None:
        """Mark deleted and keep history; deleting what is absent or deleted changes nothing."""
        check_resource_type(resource_type)
        check_id(resource_id)
        self.access.check(self.context, "delete", resource_type, None)
        begin_write(self.session)
        current = self._lock_current(resource_type, resource_id)
        if current is None:
            return None
        self._require_stored_in_reach("delete", resource_type, resource_id)
        pk, version, deleted, _ = current
        if if_match is not None and if_match != version:
            raise PreconditionFailed(
                f"`{resource_type}/{resource_id}` is at version `{version}`, not the If-Match version `{if_match}`."
            )
        if deleted:
            return None
        return self._write_version(pk, resource_type, resource_id, version + 1, None, "DELETE")

    def write_many(self, writes: list[PendingWrite]) -> list[WriteResult]:
        """Create or update many resources with one lock query and one write statement.

        Each write follows the rules of :meth:`create` (``new``) or :meth:`update`;
        see :mod:`._batch_write`. Transactions, the loader and HL7 v2 use it.

        :raises BatchWriteFailed: naming the position of the first refused write.
        """
        return write_batch(self, writes)

    def index_values(self, resource: dict[str, Any]) -> list[IndexValue]:
        """Everything the search index stores for ``resource``: extracted values and date sort keys."""
        return search_index_values(resource, self.registry)

    def _lock_current(self, resource_type: str, resource_id: str) -> Row[Any, Any, Any, Any] | None:
        params = {"resource_type": resource_type, "fhir_id": resource_id}
        return self.session.connection().execute(sql.LOCK_CURRENT, params).one_or_none()

    def _insert_new(
        self, resource_type: str, resource_id: str, resource: dict[str, Any], method: str
    ) -> StoredResource | None:
        now = datetime.now(UTC)
        stamped, content = stamp(resource, resource_id, 1, now)
        index = self.index_values(stamped)
        if sql.insert_new(self.session.connection(), resource_type, resource_id, now, content, method, index) is None:
            return None
        record_write(self.session, resource_type, resource_id, 1, stamped)
        return StoredResource(resource_type, resource_id, 1, now, content, method)

    def _write_version(
        self,
        pk: int,
        resource_type: str,
        resource_id: str,
        version: int,
        resource: dict[str, Any] | None,
        method: str,
    ) -> StoredResource:
        now = datetime.now(UTC)
        stamped, content = (None, None) if resource is None else stamp(resource, resource_id, version, now)
        index = [] if stamped is None else self.index_values(stamped)
        try:
            sql.write_version(
                self.session.connection(), pk, resource_type, resource_id, version, now, content, method, index
            )
        except IntegrityError as exc:
            raise Conflict(
                f"A concurrent write already created version `{version}` of `{resource_type}/{resource_id}`; retry."
            ) from exc
        record_write(self.session, resource_type, resource_id, version, stamped)
        return StoredResource(resource_type, resource_id, version, now, content, method)

    # -- reach: what a restricted caller (a SMART token) may see and change ------------

    def permits(self, interaction: str, resource_type: str) -> bool:
        """Whether the caller may perform ``interaction`` on ``resource_type`` at all.

        The same check every interaction makes first, without raising: for an operation
        that spans types the caller did not name (``$everything``) and leaves out the
        ones it may not see instead of refusing the whole request.
        """
        try:
            self.access.check(self.context, interaction, resource_type, None)
        except Forbidden:
            return False
        return True

    def _require_stored_in_reach(self, interaction: str, resource_type: str, resource_id: str) -> None:
        """A 404, as for a missing resource, when the stored resource is outside the caller's reach."""
        reaches = self.access.restriction(self.context, interaction, resource_type)
        if reaches is not None and not reachable(self.session, self.registry, resource_type, resource_id, reaches):
            raise NotFound(f"Resource `{resource_type}/{resource_id}` was not found.")

    def _require_content_in_reach(self, interaction: str, resource_type: str, resource: dict[str, Any]) -> None:
        """A 403 when a resource to be written would lie outside every compartment the caller reaches.

        A scope's query (``?category=...``) restricts reads and searches; writes are held to the compartment.
        """
        reaches = self.access.restriction(self.context, interaction, resource_type)
        if reaches is None or any(reach.compartment is None for reach in reaches):
            return
        links = {
            (v.param, v.target_type, v.target_id) for v in self.index_values(resource) if isinstance(v, ReferenceValue)
        }
        for reach in reaches:
            assert reach.compartment is not None
            compartment_type, compartment_id = reach.compartment
            if resource_type == compartment_type:
                if resource.get("id") == compartment_id:
                    return
                continue
            params = self.registry.compartment_params(compartment_type, resource_type)
            if any((param, compartment_type, compartment_id) in links for param in params):
                return
        raise Forbidden(
            f"The access token may write `{resource_type}` only within its patient's compartment, "
            "and this resource does not refer to that patient."
        )

    def _history_reach(self, resource_type: str | None) -> ColumnElement[bool] | None:
        """The condition on history rows of a type or system history for a restricted caller."""
        types = [resource_type] if resource_type is not None else sorted(R4_RESOURCE_TYPES)
        restrictions = {t: self.access.restriction(self.context, "history", t) for t in types}
        if all(r is None for r in restrictions.values()):
            return None
        res = ResourceRow.__table__.alias("r")
        planner = planner_for(self.session, self.registry)
        open_types = [t for t, r in restrictions.items() if r is None]
        alternatives: list[ColumnElement[bool]] = [ResourceHistory.resource_type.in_(open_types)] if open_types else []
        for name, reaches in restrictions.items():
            if reaches:
                members = select(res.c.pk).where(reach_condition(res, name, reaches, self.registry, planner))
                alternatives.append(
                    and_(ResourceHistory.resource_type == name, ResourceHistory.resource_pk.in_(members))
                )
        return or_(*alternatives) if alternatives else false()

    # -- reads ----------------------------------------------------------------------

    def read(self, resource_type: str, resource_id: str) -> StoredResource:
        """The current version; deleted resources raise :class:`Gone`."""
        check_resource_type(resource_type)
        self.access.check(self.context, "read", resource_type, None)
        params = {"resource_type": resource_type, "fhir_id": resource_id}
        row = self.session.connection().execute(sql.READ_CURRENT, params).one_or_none()
        if row is None:
            raise NotFound(f"Resource `{resource_type}/{resource_id}` was not found.")
        self._require_stored_in_reach("read", resource_type, resource_id)
        if row.content is None:
            raise Gone(f"Resource `{resource_type}/{resource_id}` was deleted (version `{row.version_id}`).")
        return StoredResource(resource_type, resource_id, row.version_id, utc(row.last_updated), row.content)

    def vread(self, resource_type: str, resource_id: str, version_id: str) -> StoredResource:
        """One version from history; a version that records a delete raises :class:`Gone`."""
        check_resource_type(resource_type)
        self.access.check(self.context, "vread", resource_type, None)
        missing = NotFound(f"Resource `{resource_type}/{resource_id}` with version `{version_id}` was not found.")
        if not version_id.isdigit():
            raise missing
        reaches = self.access.restriction(self.context, "vread", resource_type)
        if reaches is not None and not reachable(self.session, self.registry, resource_type, resource_id, reaches):
            raise missing
        row = self.session.execute(
            select(ResourceHistory.last_updated, ResourceHistory.content, ResourceHistory.method).where(
                ResourceHistory.resource_type == resource_type,
                ResourceHistory.fhir_id == resource_id,
                ResourceHistory.version_id == int(version_id),
            )
        ).one_or_none()
        if row is None:
            raise missing
        if row.content is None:
            raise Gone(f"Version `{version_id}` of `{resource_type}/{resource_id}` records its deletion.")
        return StoredResource(
            resource_type, resource_id, int(version_id), utc(row.last_updated), row.content, row.method
        )

    def search(
        self,
        types: list[str],
        query: SearchQuery,
        *,
        base_url: str,
        page_size: int,
        strict: bool = False,
        compartment: tuple[str, str] | None = None,
    ) -> SearchResult:
        """Search resources of ``types`` (http://hl7.org/fhir/R4/http.html#search).

        :param strict: ``Prefer: handling=strict``: unknown or unsupported parameters raise
            instead of being ignored and reported in the result.
        :param compartment: ``(CompartmentType, id)`` for a compartment search.
        """
        for resource_type in types:
            check_resource_type(resource_type)
            self.access.check(self.context, "search", resource_type, None)
        context = PlanContext(base_url=base_url, now=datetime.now(UTC))
        return run_search(
            self.session,
            self.registry,
            context,
            types,
            query,
            page_size=page_size,
            strict=strict,
            compartment=compartment,
            reach=lambda resource_type: self.access.restriction(self.context, "search", resource_type),
        )

    def history(
        self,
        resource_type: str | None = None,
        resource_id: str | None = None,
        *,
        since: datetime | None = None,
        count: int = 20,
        cursor: int | None = None,
    ) -> HistoryPage:
        """Versions newest first, keyset-paged on the history row key so pages stay stable under writes."""
        if resource_type is not None:
            check_resource_type(resource_type)
        interaction = "history-instance" if resource_id is not None else "history"
        self.access.check(self.context, interaction, resource_type, None)
        query = select(ResourceHistory).order_by(ResourceHistory.pk.desc()).limit(count + 1)
        if resource_id is not None:
            assert resource_type is not None
            self._require_stored_in_reach(interaction, resource_type, resource_id)
        else:
            reach = self._history_reach(resource_type)
            if reach is not None:
                query = query.where(reach)
        if resource_type is not None:
            query = query.where(ResourceHistory.resource_type == resource_type)
        if resource_id is not None:
            query = query.where(ResourceHistory.fhir_id == resource_id)
        if since is not None:
            query = query.where(ResourceHistory.last_updated >= since)
        if cursor is not None:
            query = query.where(ResourceHistory.pk < cursor)
        rows = list(self.session.scalars(query))
        if resource_id is not None and not rows and cursor is None:
            exists = self.session.execute(
                select(ResourceRow.pk).where(
                    ResourceRow.resource_type == resource_type, ResourceRow.fhir_id == resource_id
                )
            ).first()
            if exists is None:
                raise NotFound(f"Resource `{resource_type}/{resource_id}` was not found.")
        page = rows[:count]
        entries = [
            StoredResource(r.resource_type, r.fhir_id, r.version_id, utc(r.last_updated), r.content, r.method)
            for r in page
        ]
        return HistoryPage(entries, page[-1].pk if len(rows) > count else None)
