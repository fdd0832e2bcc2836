"""Checks on single JSON values: primitives and ``Reference.reference`` strings.

Each check returns ``None`` when the value is fine, or ``(code, diagnostics)``
for the caller to turn into a :class:`~conformance.issues.ValidationIssue`; the
caller owns the FHIRPath, so these functions stay free of walking state.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import re
from typing import TYPE_CHECKING, Any

from conformance.fhir_json import DECIMAL_PATTERN, FhirDecimal

if TYPE_CHECKING:
    from conformance._definitions import Primitive

#: ``(IssueType code, diagnostics)``.
Problem = tuple[str, str]

_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
# Types whose regex lets impossible days through (`2021-02-30`); we also ask the calendar.
_CALENDAR_TYPES = frozenset({"date", "dateTime", "instant"})
_JSON_KIND_NAMES = {"string": "a JSON string", "boolean": "a JSON boolean", "integer": "a JSON integer"}

_ID = r"[A-Za-z0-9\-\.]{1,64}"
_RELATIVE = re.compile(rf"([A-Z][A-Za-z]+)/{_ID}(?:/_history/{_ID})?")
_CONDITIONAL = re.compile(r"([A-Z][A-Za-z]+)\?\S+")
_ABSOLUTE = re.compile(r"https?://[^\s/]+\S*")
_LOCAL = re.compile(rf"#(?:{_ID})?")
_URN = re.compile(
    r"urn:uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|urn:oid:[0-2](?:\.(?:0|[1-9][0-9]*))+"
)
_REFERENCE_FORMS = (
    "expected `Type/id`, `Type/id/_history/vid`, an absolute http(s) URL, `#id`, `urn:uuid:<uuid>` or `urn:oid:<oid>`"
)


def show(value: Any) -> str:
    """Render a JSON value for a message: strings as they are, others as JSON, kept short."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, FhirDecimal):
        text = value.text
    else:
        text = json.dumps(value, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def json_kind(value: Any) -> str:
    """Name the JSON kind of a parsed value, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def check_primitive(value: Any, primitive: Primitive, expr: str) -> Problem | None:
    """Check one primitive value against its JSON kind, lexical regex and range."""
    kind = primitive.json
    code = primitive.code
    if kind == "string":
        if type(value) is not str:
            return "structure", _wrong_kind(value, primitive, expr)
        regex = primitive.regex
        if regex is not None and regex.fullmatch(value) is None:
            return "value", f"Value `{show(value)}` of `{expr}` is not a valid `{code}`."
        if code in _CALENDAR_TYPES and len(value) >= 10 and not _real_date(value):
            return "value", f"Value `{show(value)}` of `{expr}` is not a valid `{code}`: no such day."
        if code == "xhtml" and not value.lstrip().startswith("<div"):
            return "value", f"Narrative `{expr}` must be an XHTML `<div>` element."
        return None
    if kind == "boolean":
        return None if type(value) is bool else ("structure", _wrong_kind(value, primitive, expr))
    if kind == "integer":
        if isinstance(value, FhirDecimal) and value.text == "-0":
            value = 0  # read as a FhirDecimal only so it is written back as `-0`
        if type(value) is not int:
            return "structure", _wrong_kind(value, primitive, expr)
        low = 1 if code == "positiveInt" else 0 if code == "unsignedInt" else _INT32_MIN
        if not low <= value <= _INT32_MAX:
            return "value", f"Value `{value}` of `{expr}` is out of range for `{code}`."
        return None
    # decimal: any JSON number; bool is an int subclass in Python, so exclude it explicitly.
    if type(value) is int:
        return None
    if not isinstance(value, float):
        return "structure", f"Value `{show(value)}` of `{expr}` must be a JSON number (a FHIR `{code}`)."
    if isinstance(value, FhirDecimal) and DECIMAL_PATTERN.fullmatch(value.text) is None:
        return "value", f"Value `{show(value)}` of `{expr}` is not a valid `{code}`."
    if not math.isfinite(value):  # the float of 1.5E400 is inf: beyond what this server can compare or search
        return (
            "value",
            f"Value `{show(value)}` of `{expr}` is out of range for `{code}`: its magnitude must be below 1.8E308.",
        )
    return None


def _wrong_kind(value: Any, primitive: Primitive, expr: str) -> str:
    expected = _JSON_KIND_NAMES[primitive.json]
    return f"Value `{show(value)}` of `{expr}` must be {expected} (a FHIR `{primitive.code}`)."


def _real_date(value: str) -> bool:
    """Tell whether the ``YYYY-MM-DD`` prefix of a regex-valid date is a real calendar day."""
    try:
        _dt.date(int(value[0:4]), int(value[5:7]), int(value[8:10]))
    except ValueError:
        return False
    return True


def check_reference(ref: str, expr: str, resource_types: frozenset[str], conditional_ok: bool) -> Problem | None:
    """Check the shape of a ``Reference.reference`` string.

    :param ref: the reference text.
    :param expr: FHIRPath of the ``reference`` element, for the message.
    :param resource_types: the known resource types, to vet ``Type/id`` forms.
    :param conditional_ok: whether conditional references (``Patient?identifier=x``) are
        allowed, which FHIR permits only inside transaction and batch Bundles.
    """
    match = _RELATIVE.fullmatch(ref)
    if match is None and conditional_ok:
        match = _CONDITIONAL.fullmatch(ref)
    if match is not None:
        if match.group(1) in resource_types:
            return None
        return "value", (
            f"Reference `{show(ref)}` at `{expr}` names `{match.group(1)}`, which is not a FHIR R4 resource type."
        )
    if _ABSOLUTE.fullmatch(ref) or _URN.fullmatch(ref) or _LOCAL.fullmatch(ref):
        return None
    return "value", f"Reference `{show(ref)}` at `{expr}` is not a valid reference: {_REFERENCE_FORMS}."
