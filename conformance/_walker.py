"""Validate resource JSON against the R4 element index, element by element.

This is the R4-exact half of validation: it knows every element R4 defines
and nothing else, so it is what rejects R4B-only elements, and it is the only
validator for the R4 types that have no R4B model. It checks, for every JSON
object it meets, unknown and forbidden properties, array versus single values,
minimum and maximum cardinality, one value per choice element, JSON kinds,
lexical rules of primitives, narrative safety (:mod:`conformance._narrative`),
reference shapes, that ``#id`` references resolve to a contained resource, and
terminology bindings (:mod:`conformance._terminology`): a value outside the
ValueSet of a ``required`` binding is an error, outside an ``extensible`` or
``preferred`` one a warning (which writes accept; ``$validate`` reports it).
It notes every instance of a type or element that has R4 invariants and, once
the walk found no error, :meth:`Walker.invariants` evaluates them
(:mod:`conformance._invariants`); dom-3 (each contained resource is referred to)
it checks natively from the ``#id`` references it collected.

FHIRPaths in issues use JSON property names (``Observation.valueQuantity``) and
zero-based indexes, so a client can find the offending spot in what it sent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conformance._definitions import definitions
from conformance._invariants import has_invariants, invariants_at, model_type
from conformance._narrative import narrative_problems
from conformance._terminology import bindings
from conformance._values import check_primitive, check_reference, json_kind, show
from conformance.issues import ValidationIssue

if TYPE_CHECKING:
    from conformance._definitions import Context, Element
    from conformance._terminology import Binding

# Bundle types whose entries may use conditional references (R4 http.html#trules).
_CONDITIONAL_BUNDLES = frozenset({"transaction", "batch"})
# Datatypes whose binding applies to their `system` and `code` (R4 terminologies.html#binding):
# Coding, and Quantity with its specialisations and profiles, whose unit is what is bound.
_CODED_PAIRS = frozenset(
    {"Coding", "Quantity", "Age", "Count", "Distance", "Duration", "SimpleQuantity", "MoneyQuantity"}
)
# Primitive types whose `#id` values refer to a contained resource, for dom-3.
_LOCAL_URIS = frozenset({"canonical", "uri", "url"})
# Primitive types a binding applies to: the value itself is the code.
_BOUND_PRIMITIVES = frozenset({"code", "string", "uri"})


class Walker:
    """One validation run; collects issues and the resource types it met.

    Not thread-safe and not reusable: create one per validated document.
    """

    __slots__ = (
        "_bindings",
        "_conditional_ok",
        "_contexts",
        "_invariant_issues",
        "_invariant_keys",
        "_local_refs",
        "_local_uris",
        "_pending",
        "_resource",
        "_root",
        "_types",
        "issues",
        "nested_types",
    )

    def __init__(self) -> None:
        defs = definitions()
        self._contexts = defs.contexts
        self._types = defs.resource_types
        self._bindings = bindings()
        #: Problems found so far, in document order.
        self.issues: list[ValidationIssue] = []
        #: Resource types met below the top level (contained, Bundle entries, Parameters).
        self.nested_types: set[str] = set()
        # `#id` references of the current resource and its contained ones: (id, FHIRPath).
        self._local_refs: list[tuple[str, str]] = []
        # `#id` values of canonical, uri and url elements, which dom-3 counts as references.
        self._local_uris: list[tuple[str, str]] = []
        self._conditional_ok = False
        self._invariant_keys = has_invariants()
        # Invariants the walk checked natively (dom-3), reported with the FHIRPath ones.
        self._invariant_issues: list[ValidationIssue] = []
        # Instances with constraints to evaluate once the walk found no error:
        # (context key, fhirpathpy type path, instance, FHIRPath, %resource, %rootResource).
        self._pending: list[tuple[str, str, Any, str, Any, Any]] = []
        self._resource: Any = None
        self._root: Any = None

    def _add(self, code: str, diagnostics: str, expression: str | None) -> None:
        self.issues.append(ValidationIssue("error", code, diagnostics, expression))

    def _binding_miss(self, binding: Binding, what: str, reason: str | None, expr: str) -> None:
        """Report ``what`` (a sentence subject) as outside the bound ValueSet; ``reason`` says more."""
        strength = binding.strength
        detail = f": {reason}" if reason else ""
        self.issues.append(
            ValidationIssue(
                "error" if strength == "required" else "warning",
                "code-invalid",
                f"{what} is not in the value set {binding.value_set.url} ({strength} binding){detail}.",
                expr,
            )
        )

    def invariants(self) -> None:
        """Evaluate the constraints of every instance met, unless the walk already found an error.

        They run after the walk so that FHIRPath only sees structurally valid JSON.
        """
        if any(issue.is_error for issue in self.issues):
            return
        self.issues.extend(self._invariant_issues)
        for key, type_path, node, expr, resource, root in self._pending:
            for invariant in invariants_at(key):
                issue = invariant.check(node, type_path, expr, resource, root)
                if issue is not None:
                    self.issues.append(issue)

    def _expect(self, key: str, type_key: str, node: Any, expr: str) -> None:
        """Note an instance of ``key`` (a type or element path) whose type is ``type_key``."""
        if key in self._invariant_keys:
            self._pending.append((key, model_type(type_key), node, expr, self._resource, self._root))

    # -- resources -----------------------------------------------------------------------

    def resource(self, data: Any, expr: str | None = None, *, contained: bool = False) -> None:
        """Validate one resource; ``expr`` is where it sits in its container, if anywhere."""
        where = f"at `{expr}`" if expr else "in the request"
        if type(data) is not dict:
            self._add("structure", f"The resource {where} must be a JSON object.", expr)
            return
        rtype = data.get("resourceType")
        if rtype is None:
            self._add("required", f"The resource {where} has no `resourceType`.", expr)
            return
        if type(rtype) is not str or rtype not in self._types:
            self._add(
                "not-supported",
                f"Resource type `{show(rtype)}` is not a FHIR R4 (4.0.1) resource type.",
                f"{expr}.resourceType" if expr else None,
            )
            return
        path = expr or rtype
        if expr is not None:
            self.nested_types.add(rtype)
        outer_resource, outer_root = self._resource, self._root
        self._resource = data
        if self._root is None or not contained:
            # A Bundle entry or Parameters resource is a root of its own; a contained one is not.
            self._root = data
        self._expect(rtype, rtype, data, path)
        try:
            self._walk_resource(data, rtype, path, contained)
        finally:
            self._resource, self._root = outer_resource, outer_root

    def _walk_resource(self, data: dict[str, Any], rtype: str, path: str, contained: bool) -> None:
        if contained:
            # Contained resources share the container's `#id` scope.
            if "contained" in data:
                self._add(
                    "invariant",
                    f"Contained resource `{path}` must not contain other resources (dom-2).",
                    f"{path}.contained",
                )
            self._object(data, self._contexts[rtype], path, True)
            return
        outer_refs, outer_uris, outer_conditional = self._local_refs, self._local_uris, self._conditional_ok
        self._local_refs, self._local_uris = [], []
        if rtype == "Bundle":
            self._conditional_ok = data.get("type") in _CONDITIONAL_BUNDLES
        self._object(data, self._contexts[rtype], path, True)
        self._check_local_refs(data, path)
        self._local_refs, self._local_uris, self._conditional_ok = outer_refs, outer_uris, outer_conditional

    def _check_local_refs(self, data: dict[str, Any], path: str) -> None:
        """Check ref-1 (each ``#id`` resolves) and dom-3 (each contained resource is referred to)."""
        contained = data.get("contained")
        if not self._local_refs and type(contained) is not list:
            self._local_uris.clear()
            return
        ids: set[str] = set()
        if type(contained) is list:
            # Only well-formed ids count; a malformed one was reported where it stands.
            ids = {r["id"] for r in contained if type(r) is dict and type(r.get("id")) is str}
        for local_id, expr in self._local_refs:
            if local_id and local_id not in ids:
                self._add(
                    "value",
                    f"Reference `#{local_id}` at `{expr}` matches no contained resource.",
                    expr,
                )
        if type(contained) is list:
            self._check_contained_referenced(contained, path)

    def _check_contained_referenced(self, contained: list[Any], path: str) -> None:
        """dom-3: a contained resource is referred to from the resource, or refers to it (``#``).

        Evaluated here rather than by FHIRPath: its ``descendants()`` over the whole
        resource, once per contained resource, cost fhirpathpy 25 ms per resource.
        """
        refs = self._local_refs + self._local_uris
        self._local_uris.clear()
        referred = {local_id for local_id, _ in refs}
        for index, resource in enumerate(contained):
            if type(resource) is not dict or type(resource.get("id")) is not str or resource["id"] in referred:
                continue  # without an id, `'#' + id` is empty and dom-3 holds
            inside = f"{path}.contained[{index}]."
            if any(not local_id and expr.startswith(inside) for local_id, expr in refs):
                continue  # it refers to its container
            where = inside[:-1]
            self._invariant_issues.append(
                ValidationIssue(
                    "error",
                    "invariant",
                    f"Constraint dom-3 failed: If the resource is contained in another resource, it SHALL be "
                    f"referred to from elsewhere in the resource or SHALL refer to the containing resource "
                    f"(`{where}`, id `{show(resource['id'])}`, is not referred to).",
                    path,
                )
            )

    # -- objects -------------------------------------------------------------------------

    def _object(self, obj: dict[str, Any], ctx: Context, expr: str, is_resource: bool) -> None:
        """Validate the properties of one JSON object described by ``ctx``."""
        if not obj:
            self._add("structure", f"Element `{expr}` is empty; FHIR elements need a value or children.", expr)
            return
        elements = ctx.elements
        for key, value in obj.items():
            el = elements.get(key)
            if el is None:
                if key[:1] == "_":
                    base = elements.get(key[1:])
                    if base is not None and base.primitive is not None:
                        self._primitive_extension(value, base, obj, f"{expr}.{base.name}")
                        continue
                elif is_resource and key == "resourceType":
                    continue
                self._add("structure", f"Unknown element `{key}` in `{expr}`.", f"{expr}.{key}")
                continue
            child = f"{expr}.{key}"
            if el.many:
                if type(value) is list:
                    self._array(value, el, obj, child)
                else:
                    self._add("structure", f"Element `{child}` must be an array.", child)
            elif type(value) is list:
                self._add("structure", f"Element `{child}` must be a single value, not an array.", child)
            elif el.max == 0:
                self._add("structure", f"Element `{child}` is not allowed here.", child)
            else:
                self._item(value, el, child)
        for path, names in ctx.required:
            # A primitive may be present through its `_name` sibling alone (extension, no value).
            if not any(name in obj or f"_{name}" in obj for name in names):
                self._missing(path, expr)
        for path, names in ctx.choices:
            present = [name for name in names if name in obj]
            if len(present) > 1:
                listed = ", ".join(f"`{name}`" for name in present)
                self._add(
                    "structure",
                    f"Choice element `{path}` may have one value but `{expr}` has {listed}.",
                    f"{expr}.{present[1]}",
                )

    def _missing(self, path: str, expr: str) -> None:
        name = path.rsplit(".", 1)[-1]
        self._add(
            "required",
            f"Missing required element `{name}` in `{expr}`.",
            f"{expr}.{name.removesuffix('[x]')}",
        )

    def _array(self, items: list[Any], el: Element, obj: dict[str, Any], expr: str) -> None:
        if not items:
            self._add("structure", f"Element `{expr}` must not be an empty array.", expr)
            return
        if el.max is not None and len(items) > el.max:
            self._add("structure", f"Element `{expr}` has {len(items)} values; at most {el.max} are allowed.", expr)
        if len(items) < el.min:
            self._add("required", f"Element `{expr}` has {len(items)} values; at least {el.min} are required.", expr)
        siblings = obj.get(f"_{el.name}") if el.primitive is not None else None
        for index, item in enumerate(items):
            if item is None and type(siblings) is list and index < len(siblings) and siblings[index] is not None:
                continue  # a primitive that has only an extension, carried by `_name`
            self._item(item, el, f"{expr}[{index}]")

    def _item(self, value: Any, el: Element, expr: str) -> None:
        """Validate one value of an element (an array item or the single value)."""
        if value is None:
            self._add("structure", f"Element `{expr}` must not be null.", expr)
            return
        primitive = el.primitive
        if primitive is not None:
            problem = check_primitive(value, primitive, expr)
            if problem is not None:
                self._add(problem[0], problem[1], expr)
            elif primitive.code == "xhtml":
                # Narrative is rendered by every client: parse it and hold it to txt-1/txt-2.
                for code, diagnostics in narrative_problems(value, expr):
                    self._add(code, diagnostics, expr)
            else:
                binding = self._bindings.get(el.path)
                if binding is not None and primitive.code in _BOUND_PRIMITIVES:
                    reason = binding.code_problem(value)
                    if reason is not None:
                        self._binding_miss(binding, f"Value `{show(value)}` of `{expr}`", reason, expr)
                if primitive.code in _LOCAL_URIS and value[:1] == "#":
                    self._local_uris.append((value[1:], expr))  # dom-3 counts `#id` canonicals and uris too
            self._expect(el.path, primitive.code, value, expr)
            return
        if type(value) is not dict:
            self._add(
                "structure",
                f"Element `{expr}` must be a JSON object (a FHIR `{el.type_code}`), not {json_kind(value)}.",
                expr,
            )
            return
        children = el.children
        if children is None:  # the element holds a whole resource
            self.resource(value, expr, contained=el.name == "contained")
            return
        self._object(value, self._contexts[children], expr, False)
        self._expect(children, children, value, expr)
        if el.path != children:
            self._expect(el.path, children, value, expr)
        if children == "Reference":
            self._reference(value, expr)
            return
        # The element's own binding, else one on its datatype (Age, Distance and Duration bind their units).
        binding = self._bindings.get(el.path) or self._bindings.get(children)
        if binding is not None:
            if children == "CodeableConcept":
                self._codeable_concept(value, binding, expr)
            elif children in _CODED_PAIRS:
                self._coded_pair(value, binding, expr)

    def _coded_pair(self, value: dict[str, Any], binding: Binding, expr: str) -> None:
        """Check the ``system`` and ``code`` of a bound Coding or Quantity."""
        system, code = value.get("system"), value.get("code")
        if type(code) is not str or (system is not None and type(system) is not str):
            return  # no code to judge, or a malformed one already reported
        reason = binding.value_set.coding_problem(system, code)
        if reason is not None:
            self._binding_miss(binding, f"Code `{_pair(system, code)}` of `{expr}`", reason, expr)

    def _codeable_concept(self, value: dict[str, Any], binding: Binding, expr: str) -> None:
        """Check a bound CodeableConcept: at least one of its codings must be from the ValueSet.

        R4 terminologies.html#strength: under a required binding the concept SHALL
        come from the value set, so other codings (translations) may sit beside one
        that does, but a CodeableConcept with text alone does not conform. Under
        extensible and preferred bindings text alone, or codes from elsewhere, are
        allowed but worth a warning.
        """
        codings = value.get("coding")
        pairs: list[tuple[Any, str]] = []
        if type(codings) is list:
            for coding in codings:
                if type(coding) is not dict:
                    continue
                system, code = coding.get("system"), coding.get("code")
                if type(code) is not str or (system is not None and type(system) is not str):
                    continue
                if binding.value_set.coding_problem(system, code) is None:
                    return
                pairs.append((system, code))
        if pairs:
            shown = ", ".join(f"`{_pair(system, code)}`" for system, code in pairs)
            self._binding_miss(binding, f"The concept of `{expr}` (codings {shown})", None, expr)
        elif type(codings) is list and codings:
            self._binding_miss(binding, f"The concept of `{expr}` (no coding has a code)", None, expr)
        elif "text" in value:
            self._binding_miss(binding, f"The concept of `{expr}` (text only, no coding)", None, expr)
        # A CodeableConcept of extensions alone (a data-absent-reason) asserts no concept to check.

    def _reference(self, value: dict[str, Any], expr: str) -> None:
        ref = value.get("reference")
        if type(ref) is not str:
            return  # a wrong JSON kind was reported by the primitive check
        where = f"{expr}.reference"
        if ref[:1] == "#":
            self._local_refs.append((ref[1:], where))
        problem = check_reference(ref, where, self._types, self._conditional_ok)
        if problem is not None:
            self._add(problem[0], problem[1], where)

    def _primitive_extension(self, value: Any, base: Element, obj: dict[str, Any], expr: str) -> None:
        """Validate a ``_name`` sibling, which carries a primitive's id and extensions."""
        element_ctx = self._contexts["Element"]
        if not base.many:
            if type(value) is dict:
                self._object(value, element_ctx, expr, False)
            else:
                self._add("structure", f"Element `_{base.name}` of `{expr}` must be a JSON object.", expr)
            return
        values = obj.get(base.name)
        if type(value) is not list or (type(values) is list and len(values) != len(value)):
            self._add(
                "structure",
                f"Element `_{base.name}` of `{expr}` must be an array as long as `{base.name}`.",
                expr,
            )
            return
        for index, item in enumerate(value):
            if type(item) is dict:
                self._object(item, element_ctx, f"{expr}[{index}]", False)
            elif item is not None:
                where = f"{expr}[{index}]"
                self._add("structure", f"Element `_{base.name}` of `{where}` must be a JSON object.", where)


def _pair(system: str | None, code: str) -> str:
    """Render a coded value as ``system|code`` (just the code when there is no system)."""
    return show(code) if system is None else f"{system}|{show(code)}"
