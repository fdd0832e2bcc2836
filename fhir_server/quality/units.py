"""Units as senders write them, normalised to UCUM codes on import.

A Quantity is comparable, searchable by unit and convertible only when its unit is a UCUM code
(``system`` http://unitsofmeasure.org, ``code`` ``mm[Hg]``); devices, lab systems and exports
write ``mmHg``, ``bpm``, ``°C`` or ``lbs`` in ``unit`` alone, or put such a string in ``code``
under the UCUM system. :func:`normalise_units` sets ``system`` and ``code`` from the text where
the text names a unit unambiguously, and keeps the sender's text in ``unit`` (its display).

The value is never converted: ``98.6 [degF]`` stays 98.6, now with a code that says so. A
Quantity coded in another system (a local unit system, say) is left alone, as is a unit this
table does not know: guessing would be worse than leaving the sender's text.
"""

from __future__ import annotations

from typing import Any

__all__ = ["UCUM", "normalise_quantity", "normalise_units", "ucum_code"]

UCUM = "http://unitsofmeasure.org"

#: UCUM codes that senders also write as they are (matched case-sensitively: ``mg`` is not ``Mg``).
_VALID = frozenset(
    (
        "%", "g", "mg", "ug", "ng", "pg", "kg", "g/L", "g/dL", "mg/dL", "mg/L", "ug/L", "ng/mL", "pg/mL",
        "mmol/L", "umol/L", "nmol/L", "pmol/L", "mol/L", "U/L", "mU/L", "m[IU]/L", "[IU]/L", "mEq/L",
        "mL", "L", "dL", "fL", "mm[Hg]", "cm[H2O]", "cm", "mm", "m", "km", "s", "min", "h", "d", "wk",
        "mo", "a", "/min", "/h", "10*3/uL", "10*6/uL", "10*9/L", "10*12/L", "Cel", "[degF]", "K",
        "kg/m2", "{ratio}", "[lb_av]", "[oz_av]", "[in_i]", "[ft_i]", "L/min", "mL/min", "mL/h",
        "{beats}/min", "{breaths}/min", "{steps}", "kcal", "[pH]", "mosm/kg", "{score}", "1",
    )
)  # fmt: skip

#: Other spellings, by lower-cased text with spaces removed, to their UCUM code. Single letters
#: (``C``, ``F``) are left out: in UCUM they are the coulomb and the farad.
_ALIASES = {
    "bpm": "/min", "beats/min": "/min", "beat/min": "/min", "beatsperminute": "/min", "/minute": "/min",
    "breaths/min": "/min", "breath/min": "/min", "br/min": "/min", "permin": "/min",
    "mmhg": "mm[Hg]", "mm(hg)": "mm[Hg]", "mm_hg": "mm[Hg]", "cmh2o": "cm[H2O]",
    "°c": "Cel", "ºc": "Cel", "degc": "Cel", "degreesc": "Cel", "celsius": "Cel", "cel": "Cel",
    "°f": "[degF]", "ºf": "[degF]", "degf": "[degF]", "degreesf": "[degF]", "fahrenheit": "[degF]",
    "[degf]": "[degF]",
    "kgs": "kg", "kilogram": "kg", "kilograms": "kg", "gram": "g", "grams": "g", "gm": "g",
    "lb": "[lb_av]", "lbs": "[lb_av]", "pound": "[lb_av]", "pounds": "[lb_av]", "oz": "[oz_av]",
    "in": "[in_i]", "inch": "[in_i]", "inches": "[in_i]", "ft": "[ft_i]", "feet": "[ft_i]",
    "centimeter": "cm", "centimeters": "cm", "centimetre": "cm", "centimetres": "cm",
    "meter": "m", "meters": "m", "metre": "m", "metres": "m",
    "percent": "%", "pct": "%",
    "µmol/l": "umol/L", "μmol/l": "umol/L", "µg/l": "ug/L", "μg/l": "ug/L", "mcg/l": "ug/L",
    "mcg": "ug", "µg": "ug", "μg": "ug", "mmol/l": "mmol/L", "umol/l": "umol/L", "mg/dl": "mg/dL",
    "g/dl": "g/dL", "g/l": "g/L", "mg/l": "mg/L", "ng/ml": "ng/mL", "pg/ml": "pg/mL", "iu/l": "[IU]/L",
    "u/l": "U/L", "meq/l": "mEq/L", "miu/l": "m[IU]/L", "k/ul": "10*3/uL", "x10e3/ul": "10*3/uL",
    "10^3/ul": "10*3/uL", "m/ul": "10*6/uL", "x10e6/ul": "10*6/uL", "10^9/l": "10*9/L", "10^12/l": "10*12/L",
    "kg/m^2": "kg/m2", "kg/m²": "kg/m2", "ml": "mL", "l": "L", "dl": "dL", "fl": "fL",
    "sec": "s", "secs": "s", "seconds": "s", "mins": "min", "minutes": "min", "hr": "h", "hrs": "h",
    "hours": "h", "days": "d", "weeks": "wk", "months": "mo", "yr": "a", "yrs": "a", "years": "a",
    "l/min": "L/min", "lpm": "L/min", "ml/min": "mL/min", "ml/h": "mL/h", "ml/hr": "mL/h",
    "steps": "{steps}",
}  # fmt: skip


def ucum_code(text: str) -> str | None:
    """The UCUM code a unit string names, or ``None`` when it names none this table knows."""
    stripped = text.strip()
    if stripped in _VALID:
        return stripped
    return _ALIASES.get(stripped.replace(" ", "").lower())


def normalise_quantity(quantity: dict[str, Any]) -> tuple[str, str] | None:
    """Code one Quantity in UCUM in place; returns ``(as written, UCUM code)`` when it changed it."""
    system = quantity.get("system")
    if system not in (None, UCUM):
        return None  # coded in another unit system on purpose
    code, unit = quantity.get("code"), quantity.get("unit")
    if system == UCUM and isinstance(code, str) and code in _VALID:
        return None
    written = code if isinstance(code, str) and code.strip() else unit
    if not isinstance(written, str) or not written.strip():
        return None
    ucum = ucum_code(written)
    if ucum is None or (system == UCUM and code == ucum):
        return None
    quantity["system"], quantity["code"] = UCUM, ucum
    quantity.setdefault("unit", written)
    return written, ucum


def _is_quantity(key: str, value: dict[str, Any]) -> bool:
    """Whether ``value`` is a Quantity (or one of its profiles: Age, Duration, SimpleQuantity...), not Money."""
    if "currency" in value or "value" not in value or not ({"unit", "code"} & value.keys()):
        return False
    return isinstance(value["value"], int | float) and not isinstance(value["value"], bool) and key != "valueMoney"


def normalise_units(resource: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Normalise every Quantity in ``resource`` (contained resources too).

    :return: ``(element name, as written, UCUM code)`` for each Quantity changed, in document order.
    """
    changed: list[tuple[str, str, str]] = []

    def walk(key: str, value: Any) -> None:
        if isinstance(value, dict):
            if _is_quantity(key, value):
                change = normalise_quantity(value)
                if change is not None:
                    changed.append((key, *change))
                return
            for child_key, child in value.items():
                walk(child_key, child)
        elif isinstance(value, list):
            for item in value:
                walk(key, item)

    walk(str(resource.get("resourceType", "")), resource)
    return changed
