"""Turn one FHIR element into index values, per parameter type and element type (R4 search.html#ptypes).

Each converter takes the parameter code and the element's JSON value and
returns the values to index; :data:`CONVERTERS` maps ``(param type, FHIR type)``
to the converter. An element type a parameter type has no rule for yields nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from fhir_server.search._extract_ranges import date_range, normalize_text, number_range, to_decimal
from fhir_server.search._fhirpath_references import parse_reference
from fhir_server.search.index_values import (
    DateValue,
    IndexValue,
    NumberValue,
    QuantityValue,
    ReferenceValue,
    StringValue,
    TokenValue,
    UriValue,
)

__all__ = ["CONVERTERS", "Converter"]

Converter = Callable[[str, Any], Iterable[IndexValue]]

_CURRENCY_SYSTEM = "urn:iso:std:iso:4217"
_STRINGS = ("string", "markdown", "code", "id", "uri", "url", "canonical", "oid", "uuid", "xhtml")
_DATES = ("date", "dateTime", "instant")
_INTEGERS = ("integer", "positiveInt", "unsignedInt", "decimal")
_QUANTITIES = ("Quantity", "SimpleQuantity", "MoneyQuantity", "Age", "Duration", "Distance", "Count")
_NAME_PARTS = ("prefix", "given", "suffix")
_ADDRESS_PARTS = ("city", "district", "state", "postalCode", "country", "text")


def _text(value: object) -> str | None:
    return normalize_text(value) if isinstance(value, str) and value else None


# -- string -------------------------------------------------------------------------------


def _string(code: str, value: Any) -> Iterator[StringValue]:
    if isinstance(value, str) and value.strip():
        yield StringValue(code, normalize_text(value), value)


def _human_name(code: str, value: Any) -> Iterator[StringValue]:
    yield from _string(code, value.get("family"))
    for part in _NAME_PARTS:
        for item in value.get(part, ()):
            yield from _string(code, item)
    yield from _string(code, value.get("text"))


def _address(code: str, value: Any) -> Iterator[StringValue]:
    for line in value.get("line", ()):
        yield from _string(code, line)
    for part in _ADDRESS_PARTS:
        yield from _string(code, value.get(part))


def _concept_text(code: str, value: Any) -> Iterator[StringValue]:
    yield from _string(code, value.get("text"))
    for coding in value.get("coding", ()):
        yield from _string(code, coding.get("display"))


# -- token --------------------------------------------------------------------------------


def _token_primitive(code: str, value: Any) -> Iterator[TokenValue]:
    if isinstance(value, bool):
        yield TokenValue(code, None, "true" if value else "false")
    elif isinstance(value, str | int) and str(value).strip():
        yield TokenValue(code, None, str(value))


def _coding(code: str, value: Any) -> Iterator[TokenValue]:
    if value.get("system") or value.get("code"):
        yield TokenValue(code, value.get("system"), value.get("code"), _text(value.get("display")))


def _codeable_concept(code: str, value: Any) -> Iterator[TokenValue]:
    for coding in value.get("coding", ()):
        yield from _coding(code, coding)
    if value.get("text"):
        # Only `:text` can match this row: it has neither system nor code.
        yield TokenValue(code, None, None, _text(value["text"]))


def _identifier(code: str, value: Any) -> Iterator[TokenValue]:
    system, ident = value.get("system"), value.get("value")
    if not system and not ident:
        return
    kind = value.get("type") or {}
    text = _text(kind.get("text"))
    codings = [coding for coding in kind.get("coding", ()) if coding.get("code")]
    if not codings:
        yield TokenValue(code, system, ident, text)
    for coding in codings:  # one row per type coding, for `:of-type=system|code|value`
        yield TokenValue(code, system, ident, text, coding.get("system"), coding.get("code"))


def _contact_point(code: str, value: Any) -> Iterator[TokenValue]:
    # search.html#token: the code is ContactPoint.value; the spec lets servers use
    # ContactPoint.use as the system, so `phone=home|555-1234` works.
    if value.get("value"):
        yield TokenValue(code, value.get("use"), value["value"])


# -- date ---------------------------------------------------------------------------------


def _date(code: str, value: Any) -> Iterator[DateValue]:
    bounds = date_range(value) if isinstance(value, str) else None
    if bounds is not None:
        yield DateValue(code, *bounds)


def _period(code: str, value: Any) -> Iterator[DateValue]:
    start = date_range(value["start"]) if isinstance(value.get("start"), str) else None
    end = date_range(value["end"]) if isinstance(value.get("end"), str) else None
    if start is not None or end is not None:
        yield DateValue(code, start[0] if start else None, end[1] if end else None)


def _timing(code: str, value: Any) -> Iterator[DateValue]:
    # search.html#date: only a Timing's outer limits count (its events and its bounds Period).
    ranges = [bounds for event in value.get("event", ()) if (bounds := date_range(event)) is not None]
    lows: list[Any] = [bounds[0] for bounds in ranges]
    highs: list[Any] = [bounds[1] for bounds in ranges]
    period = (value.get("repeat") or {}).get("boundsPeriod")
    if period:
        for item in _period(code, period):
            lows.append(item.low)
            highs.append(item.high)
    if lows:
        low = None if None in lows else min(lows)
        high = None if None in highs else max(highs)
        yield DateValue(code, low, high)


# -- number and quantity ------------------------------------------------------------------


def _number(code: str, value: Any) -> Iterator[NumberValue]:
    number = to_decimal(value)
    if number is not None:
        yield NumberValue(code, number, *number_range(number))


def _quantity(code: str, value: Any) -> Iterator[QuantityValue]:
    number = to_decimal(value.get("value"))
    if number is not None:
        yield QuantityValue(
            code, number, *number_range(number), value.get("system"), value.get("code"), value.get("unit")
        )


def _money(code: str, value: Any) -> Iterator[QuantityValue]:
    number = to_decimal(value.get("value"))
    if number is not None:
        currency = value.get("currency")
        yield QuantityValue(code, number, *number_range(number), _CURRENCY_SYSTEM, currency, currency)


def _range_quantity(code: str, value: Any) -> Iterator[QuantityValue]:
    # A Range is indexed only when both ends are known: the columns have no open ends.
    low, high = value.get("low") or {}, value.get("high") or {}
    low_value, high_value = to_decimal(low.get("value")), to_decimal(high.get("value"))
    if low_value is not None and high_value is not None:
        unit = low.get("unit") or high.get("unit")
        yield QuantityValue(code, low_value, low_value, high_value, low.get("system"), low.get("code"), unit)


def _range_number(code: str, value: Any) -> Iterator[NumberValue]:
    for item in _range_quantity(code, value):
        yield NumberValue(code, item.value, item.low, item.high)


def _sampled_data(code: str, value: Any) -> Iterator[QuantityValue]:
    yield from _quantity(code, value.get("origin") or {})


# -- reference and uri --------------------------------------------------------------------


def _reference(code: str, value: Any) -> Iterator[IndexValue]:
    text = value.get("reference")
    parsed = parse_reference(text) if isinstance(text, str) else None
    if parsed is not None:
        yield ReferenceValue(code, parsed.target_type, parsed.target_id, parsed.url)
    if isinstance(value.get("identifier"), dict):
        # A logical reference: searched with `<code>:identifier=system|value`.
        yield from _identifier(f"{code}.identifier", value["identifier"])


def _canonical(code: str, value: Any) -> Iterator[ReferenceValue]:
    if isinstance(value, str) and value.strip():
        url, _, version = value.partition("|")
        yield ReferenceValue(code, None, None, url, version or None)


def _uri(code: str, value: Any) -> Iterator[UriValue]:
    if isinstance(value, str) and value.strip():
        yield UriValue(code, value)


def _table() -> dict[tuple[str, str], Converter]:
    table: dict[tuple[str, str], Converter] = {}
    for primitive in _STRINGS:
        table[("string", primitive)] = _string
        table[("token", primitive)] = _token_primitive
        table[("uri", primitive)] = _uri
    for primitive in ("boolean", "integer", "positiveInt", "unsignedInt"):
        table[("token", primitive)] = _token_primitive
    for primitive in (*_DATES, "string"):  # a string is indexed when it reads as a date
        table[("date", primitive)] = _date
    for primitive in _INTEGERS:
        table[("number", primitive)] = _number
    for kind in _QUANTITIES:
        table[("quantity", kind)] = _quantity
    for primitive in ("canonical", "uri", "url", "oid", "uuid"):
        table[("reference", primitive)] = _canonical
    table.update(
        {
            ("string", "HumanName"): _human_name,
            ("string", "Address"): _address,
            ("string", "CodeableConcept"): _concept_text,
            ("token", "Coding"): _coding,
            ("token", "CodeableConcept"): _codeable_concept,
            ("token", "Identifier"): _identifier,
            ("token", "ContactPoint"): _contact_point,
            ("date", "Period"): _period,
            ("date", "Timing"): _timing,
            ("number", "Range"): _range_number,
            ("quantity", "Money"): _money,
            ("quantity", "Range"): _range_quantity,
            ("quantity", "SampledData"): _sampled_data,
            ("reference", "Reference"): _reference,
        }
    )
    return table


#: ``(param type, FHIR type)`` to the converter that indexes it.
CONVERTERS: dict[tuple[str, str], Converter] = _table()
