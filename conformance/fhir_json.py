"""FHIR JSON that keeps every decimal exactly as written (http://hl7.org/fhir/R4/datatypes.html#decimal).

In FHIR the precision of a decimal is part of its value: a lab result of ``0.40``
is not ``0.4``. Plain JSON parsers turn both into the same float, so every parse
and serialization of resource JSON goes through this module instead:

* :func:`loads` parses with the standard library, turning each JSON number with a
  fraction or exponent into a :class:`FhirDecimal`: a ``float`` (so validation,
  search and arithmetic work unchanged) that also holds its source text.
* :func:`dumps` serializes with orjson, writing each :class:`FhirDecimal` back as
  its source text (an ``orjson.Fragment``).
* :func:`decimal` builds a :class:`FhirDecimal` from source text outside JSON
  (an HL7 v2 ``NM`` field, a DICOM ``DS`` value), so adapters keep the digits too.

Integers stay ``int`` (exact at any size; those beyond orjson's 64 bits are
written by a slower path), except ``-0``, which becomes a :class:`FhirDecimal` so
it is written back as read. NaN and Infinity, which JSON does not have, are rejected.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

__all__ = ["FhirDecimal", "JSONDecodeError", "decimal", "dumps", "identical", "loads"]

#: Raised by :func:`loads` for text that is not JSON (a :class:`ValueError`).
JSONDecodeError = json.JSONDecodeError

#: An R4 ``decimal`` (http://hl7.org/fhir/R4/datatypes.html#decimal), which is also the JSON number grammar.
DECIMAL_PATTERN = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
# A `\uD800`-`\uDFFF` escape: the standard library accepts a lone surrogate, orjson (like FHIR's UTF-8) does not.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE_ESCAPE_BYTES = re.compile(_SURROGATE_ESCAPE.pattern.encode())
# What HL7 v2 `NM` and DICOM `DS` allow: a sign, leading zeros, a bare `.5` or `5.`.
_SOURCE_DECIMAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
# `-0` as a JSON number (or text that looks like one, which only costs a slower parse).
_NEGATIVE_ZERO = re.compile(r"-0(?![0-9a-zA-Z.\"])")
_NEGATIVE_ZERO_BYTES = re.compile(_NEGATIVE_ZERO.pattern.encode())


class FhirDecimal(float):
    """A JSON number's float value together with its exact text, e.g. ``0.40`` or ``1.0E-245``.

    Arithmetic gives plain floats; comparison and hashing are the float's, so
    ``FhirDecimal("0.40") == 0.4``. ``str`` and ``repr`` give the text.
    """

    __slots__ = ("text",)

    #: The number as written in the source JSON.
    text: str

    def __new__(cls, text: str) -> FhirDecimal:
        self = float.__new__(cls, text)
        self.text = text
        return self

    def __repr__(self) -> str:
        return self.text

    __str__ = __repr__

    def __reduce__(self) -> tuple[type[FhirDecimal], tuple[str]]:
        return FhirDecimal, (self.text,)

    def __copy__(self) -> FhirDecimal:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> FhirDecimal:
        return self


def decimal(text: str) -> FhirDecimal | int:
    """The JSON value for a decimal written as ``text`` outside JSON, keeping its digits.

    Leading ``+`` and zeros (``+05.10``, allowed in HL7 v2 and DICOM) are dropped,
    since a JSON number cannot have them; the significant digits stay.

    :raises ValueError: when ``text`` is not a decimal number.
    """
    cleaned = text.strip()
    if not _SOURCE_DECIMAL.fullmatch(cleaned):
        raise ValueError(f"`{text}` is not a decimal number.")
    sign = "-" if cleaned.startswith("-") else ""
    body = cleaned.lstrip("+-")
    if body.startswith("."):
        body = "0" + body
    integral, dot, rest = body.partition(".")
    if rest[:1] in ("", "e", "E"):
        dot = ""  # `5.` (HL7 NM) has no fraction digits to keep
    return _number(sign + (integral.lstrip("0") or "0") + dot + rest)


def _number(text: str) -> FhirDecimal | int:
    if "." in text or "e" in text or "E" in text:
        return FhirDecimal(text)
    return _integer(text)


def _integer(text: str) -> int | FhirDecimal:
    return FhirDecimal(text) if text == "-0" else int(text)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"`{name}` is not a JSON number")


def loads(raw: bytes | str) -> Any:
    """Parse FHIR JSON, keeping each decimal's text (see :class:`FhirDecimal`).

    :raises JSONDecodeError: when ``raw`` is not JSON in UTF-8, with the line and column.
    """
    # The scans for `-0` and surrogate escapes run on the bytes when given them (three times faster than on str).
    if isinstance(raw, bytes | bytearray | memoryview):
        data = bytes(raw)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JSONDecodeError(f"not valid UTF-8 ({exc.reason})", _prefix(data, exc.start), exc.start) from exc
        negative_zero = _NEGATIVE_ZERO_BYTES.search(data) is not None
        surrogate = _SURROGATE_ESCAPE_BYTES.search(data) is not None
    else:
        text = raw
        negative_zero = _NEGATIVE_ZERO.search(text) is not None
        surrogate = _SURROGATE_ESCAPE.search(text) is not None
    try:
        # A parse_int hook costs a quarter of the parse, so it is used only when a `-0` may be there.
        parse_int = _integer if negative_zero else None
        value = json.loads(text, parse_float=FhirDecimal, parse_int=parse_int, parse_constant=_reject_constant)
    except JSONDecodeError:
        raise
    except ValueError as exc:  # a NaN/Infinity constant
        raise JSONDecodeError(str(exc), text, _constant_position(text)) from exc
    if surrogate:
        try:
            orjson.loads(text)  # rare: only orjson tells a lone surrogate from a valid pair
        except orjson.JSONDecodeError as exc:
            raise JSONDecodeError(exc.msg, text, exc.pos) from exc
    return value


def _constant_position(text: str) -> int:
    match = re.search(r"NaN|-?Infinity", text)
    return match.start() if match else 0


def _prefix(raw: bytes | bytearray | memoryview, end: int) -> str:
    """The decoded text before byte ``end``, so a message can give line and column."""
    return bytes(raw)[:end].decode("utf-8", "replace") + " "


def _fragment(value: Any) -> orjson.Fragment:
    if isinstance(value, FhirDecimal):
        return orjson.Fragment(value.text)
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


def dumps(value: Any, *, indent: bool = False) -> bytes:
    """Serialize FHIR JSON with orjson, writing each :class:`FhirDecimal` as its source text.

    :param indent: two-space indentation, for ``_pretty=true``.
    :raises TypeError: for values JSON cannot hold (orjson's ``JSONEncodeError`` is one).
    """
    option = orjson.OPT_INDENT_2 if indent else 0
    try:
        return orjson.dumps(value, default=_fragment, option=option)
    except orjson.JSONEncodeError as exc:
        if "64-bit" not in str(exc):
            raise
    # Rare: an integer beyond 64 bits (a decimal such as 10^30), which orjson does not write.
    return orjson.dumps(_big_integers_as_text(value), default=_fragment, option=option)


def _big_integers_as_text(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _big_integers_as_text(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_big_integers_as_text(item) for item in value]
    if type(value) is int and not -(2**63) <= value < 2**64:
        return orjson.Fragment(str(value))
    return value


def identical(left: Any, right: Any) -> bool:
    """Whether two JSON values are the same FHIR value: ``0.40`` differs from ``0.4``, ``1`` from ``1.0``.

    Numbers compare as :func:`dumps` writes them, so a plain ``float`` built by
    server code equals the :class:`FhirDecimal` read back from its stored bytes.
    """
    if isinstance(left, float) or isinstance(right, float):
        return isinstance(left, int | float) and isinstance(right, int | float) and _written(left) == _written(right)
    if type(left) is not type(right):
        return False
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(identical(v, right[k]) for k, v in left.items())
    if isinstance(left, list):
        return len(left) == len(right) and all(identical(a, b) for a, b in zip(left, right, strict=True))
    return bool(left == right)


def _written(number: float) -> str:
    if isinstance(number, FhirDecimal):
        return number.text
    return orjson.dumps(number).decode() if isinstance(number, float) else str(number)
