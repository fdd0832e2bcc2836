"""SMART scopes (App Launch 2.2, section "Scopes and Launch Context"), v1 and v2 syntax.

A resource scope is ``context/Type.permissions[?query]``:

- context: ``patient`` (the launch patient's compartment), ``user`` (what the
  signed-in user may see) or ``system`` (a backend service, as granted);
- Type: a resource type or ``*``;
- permissions: v2 letters in the order ``c r u d s`` (create, read, update,
  delete, search), or v1 ``read`` (= ``rs``), ``write`` (= ``cud``), ``*`` (all);
- query (v2 only): search parameters a resource must also match, e.g.
  ``patient/Observation.rs?category=vital-signs``.

Everything else (``openid``, ``fhirUser``, ``launch``, ``launch/patient``,
``offline_access``...) is kept as a plain scope string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

#: v1 permission words as v2 letters.
_V1 = {"read": "rs", "write": "cud", "*": "cruds"}
_V2 = re.compile(r"^c?r?u?d?s?$")
_SCOPE = re.compile(r"^(patient|user|system)/([A-Za-z]+|\*)\.([a-z*]+)(\?.*)?$")
CONTEXTS = ("patient", "user", "system")

#: Types a ``*`` scope does not reach: the audit trail is read only with a scope naming it
#: (``system/AuditEvent.rs``), so an app granted ``patient/*.rs`` cannot watch who looked.
EXPLICIT_ONLY = frozenset({"AuditEvent"})

#: The permission letter each repository interaction needs.
PERMISSION_OF = {
    "create": "c",
    "read": "r",
    "vread": "r",
    "update": "u",
    "patch": "u",
    "delete": "d",
    "search": "s",
    "history": "s",
    "history-instance": "r",
}


class InvalidScope(ValueError):
    """A scope string that looks like a resource scope but is malformed; the message names it."""


@dataclass(frozen=True, slots=True)
class ResourceScope:
    """One parsed resource scope."""

    context: str
    #: A resource type, or ``*``.
    resource_type: str
    #: Permission letters from ``cruds``.
    permissions: frozenset[str]
    #: Search parameters a resource must match too (name, value), from a v2 scope's query.
    query: tuple[tuple[str, str], ...] = ()
    #: The scope as written.
    text: str = ""

    def covers(self, resource_type: str, permission: str) -> bool:
        if resource_type in EXPLICIT_ONLY and self.resource_type != resource_type:
            return False
        return self.resource_type in ("*", resource_type) and permission in self.permissions

    def within(self, other: ResourceScope) -> bool:
        """Whether everything this scope allows, ``other`` allows too (for narrowing a request)."""
        return (
            self.context == other.context
            and other.resource_type in ("*", self.resource_type)
            and self.permissions <= other.permissions
            and set(other.query) <= set(self.query)
        )


def parse_resource_scope(text: str) -> ResourceScope | None:
    """The resource scope ``text`` names, or ``None`` when it is not a resource scope.

    :raises InvalidScope: for ``context/Type.x`` with unknown permissions.
    """
    match = _SCOPE.match(text)
    if match is None:
        return None
    context, resource_type, permissions, query = match.groups()
    if permissions in _V1:
        if query:
            raise InvalidScope(f"Scope `{text}`: a v1 scope (`.{permissions}`) takes no query.")
        letters = _V1[permissions]
    elif permissions and _V2.match(permissions):
        letters = permissions
    else:
        raise InvalidScope(
            f"Scope `{text}`: `{permissions}` is neither v1 (read, write, *) nor v2 (cruds, in that order)."
        )
    pairs = tuple(parse_qsl(query[1:], keep_blank_values=True)) if query else ()
    return ResourceScope(context, resource_type, frozenset(letters), pairs, text)


@dataclass(frozen=True, slots=True)
class Grant:
    """The scopes a token carries, parsed once."""

    resource_scopes: tuple[ResourceScope, ...]
    #: Every scope string, resource scopes included.
    scopes: frozenset[str]

    @classmethod
    def parse(cls, scope: str) -> Grant:
        """Parse a space-separated scope string; malformed resource scopes raise :class:`InvalidScope`."""
        names = [s for s in scope.split() if s]
        parsed = [p for p in (parse_resource_scope(s) for s in names) if p is not None]
        return cls(tuple(parsed), frozenset(names))

    def matching(self, resource_type: str, permission: str) -> list[ResourceScope]:
        """The resource scopes that allow ``permission`` on ``resource_type``."""
        return [s for s in self.resource_scopes if s.covers(resource_type, permission)]


def intersect(requested: ResourceScope, allowed: ResourceScope) -> ResourceScope | None:
    """What of ``requested`` the ``allowed`` scope permits, or ``None`` (different context, type or letters)."""
    if requested.context != allowed.context:
        return None
    if allowed.resource_type not in ("*", requested.resource_type) and requested.resource_type != "*":
        return None
    resource_type = requested.resource_type if allowed.resource_type == "*" else allowed.resource_type
    permissions = requested.permissions & allowed.permissions
    if not permissions:
        return None
    query = tuple(dict.fromkeys(requested.query + allowed.query))
    if requested.within(allowed):
        return requested  # granted as asked, spelled as asked (v1 stays v1)
    letters = "".join(c for c in "cruds" if c in permissions)
    text = f"{requested.context}/{resource_type}.{letters}" + ("?" + urlencode(query) if query else "")
    return ResourceScope(requested.context, resource_type, frozenset(letters), query, text)


def narrow(requested: str, allowed: str) -> str:
    """The part of ``requested`` that ``allowed`` (a client's registered scopes) permits.

    Each resource scope is cut down to what the allowed scopes permit (``system/*.cruds``
    against ``system/*.rs`` gives ``system/*.rs``), as SMART lets a server grant less
    than asked; other scopes are granted when allowed verbatim. The order of
    ``requested`` is kept.
    """
    allowed_grant = Grant.parse(allowed)
    granted = []
    for name in requested.split():
        scope = parse_resource_scope(name)
        if scope is None:
            if name in allowed_grant.scopes:
                granted.append(name)
            continue
        parts = [p for p in (intersect(scope, a) for a in allowed_grant.resource_scopes) if p is not None]
        # Leave out a part another part already covers (system/Observation.rs beside system/*.rs).
        granted += [p.text for p in parts if not any(o is not p and p.within(o) and o.text != p.text for o in parts)]
    return " ".join(dict.fromkeys(granted))
