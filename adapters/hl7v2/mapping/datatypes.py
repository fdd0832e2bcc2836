"""HL7 v2 data types to FHIR data types, after the v2-to-FHIR IG's data type maps.

http://hl7.org/fhir/uv/v2mappings/ (CX -> Identifier, XPN -> HumanName,
XAD -> Address, XTN -> ContactPoint, CWE -> CodeableConcept, DTM -> dateTime,
HD -> Identifier.system). Every function takes one raw repetition and the
message delimiters and returns a JSON-ready dict, or ``None`` when empty.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any
from urllib.parse import quote

from adapters.hl7v2.mapping.terminology import NAME_USE, code_system_uri
from adapters.hl7v2.parse import Delimiters, Segment, split_value

__all__ = [
    "address",
    "codeable_concept",
    "contact_point",
    "deterministic_id",
    "fhir_date",
    "fhir_datetime",
    "hd_system",
    "human_name",
    "identifier",
    "telecoms",
    "xcn_reference",
    "xon_reference",
]

Json = dict[str, Any]
_DTM = re.compile(
    r"(?P<y>\d{4})(?P<mo>\d{2})?(?P<d>\d{2})?(?P<h>\d{2})?(?P<mi>\d{2})?(?P<s>\d{2})?"
    r"(?P<f>\.\d{1,4})?(?P<tz>[+-]\d{4})?"
)


def deterministic_id(resource_type: str, *key: str) -> str:
    """A FHIR id derived from a business key, so re-processing hits the same resource."""
    digest = hashlib.sha256("\x1f".join((resource_type, *key)).encode()).hexdigest()
    return digest[:40]


def fhir_datetime(value: str, default_tz: str = "") -> str | None:
    """DTM (``YYYY[MM[DD[HH[MM[SS[.S]]]]]][+/-ZZZZ]``) to a FHIR dateTime.

    FHIR requires a zone once hours are given; a DTM without one takes
    ``default_tz`` (the sender's MSH-7 zone), else UTC.
    """
    match = _DTM.fullmatch(value.strip())
    if match is None:
        return None
    g = match.groupdict()
    date = g["y"] + (f"-{g['mo']}" if g["mo"] else "") + (f"-{g['d']}" if g["d"] and g["mo"] else "")
    if not (g["d"] and g["h"]):
        return date
    time = f"{g['h']}:{g['mi'] or '00'}:{g['s'] or '00'}" + ((g["f"] or "") if g["s"] else "")
    tz = g["tz"] or default_tz
    zone = f"{tz[:3]}:{tz[3:]}" if tz else "Z"
    return f"{date}T{time}{zone}"


def fhir_date(value: str) -> str | None:
    """DT or the date part of a DTM to a FHIR date."""
    text = fhir_datetime(value.strip()[:8])
    return text


def hd_system(namespace: str, universal_id: str, universal_type: str) -> str | None:
    """An HD (assigning authority) to a URI for ``Identifier.system``.

    An ISO OID or a UUID becomes a URN, as the IG prescribes; a bare namespace
    id is kept, percent-encoded where it holds characters a URI may not.
    """
    kind = universal_type.upper()
    if universal_id and kind == "ISO":
        return f"urn:oid:{universal_id}"
    if universal_id and kind == "UUID":
        return f"urn:uuid:{universal_id.lower()}"
    if universal_id and kind in ("URI", "URL"):
        return universal_id
    if namespace:
        return quote(namespace, safe=":/.-_~")
    return None


def identifier(raw: str, d: Delimiters, type_code: str | None = None) -> Json | None:
    """CX (or EI when ``type_code`` is given) to an Identifier; ``None`` without a value."""
    value = split_value(raw, d, 1)
    if not value:
        return None
    result: Json = {}
    if type_code is None:  # CX: CX.4 authority, CX.5 type
        system = hd_system(*(split_value(raw, d, 4, s) for s in (1, 2, 3)))
        type_code = split_value(raw, d, 5)
    else:  # EI: EI.2-4 authority
        system = hd_system(*(split_value(raw, d, c) for c in (2, 3, 4)))
    if type_code:
        result["type"] = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": type_code}]}
    if system:
        result["system"] = system
    result["value"] = value
    return result


def human_name(raw: str, d: Delimiters) -> Json | None:
    """XPN to a HumanName."""
    family = split_value(raw, d, 1)
    given = [g for g in (split_value(raw, d, 2), split_value(raw, d, 3)) if g]
    name: Json = {}
    use = NAME_USE.get(split_value(raw, d, 7).upper())
    if use:
        name["use"] = use
    if family:
        name["family"] = family
    if given:
        name["given"] = given
    for key, component in (("prefix", 5), ("suffix", 4)):
        value = split_value(raw, d, component)
        if value:
            name[key] = [value]
    return name if family or given else None


_ADDRESS_USE = {"H": "home", "B": "work", "O": "work", "C": "temp", "BA": "old", "BR": "old"}


def address(raw: str, d: Delimiters) -> Json | None:
    """XAD to an Address."""
    result: Json = {}
    lines = [line for line in (split_value(raw, d, 1), split_value(raw, d, 2)) if line]
    use = _ADDRESS_USE.get(split_value(raw, d, 7).upper())
    if use:
        result["use"] = use
    if lines:
        result["line"] = lines
    for key, component in (("city", 3), ("district", 9), ("state", 4), ("postalCode", 5), ("country", 6)):
        value = split_value(raw, d, component)
        if value:
            result[key] = value
    return result if set(result) - {"use"} else None


_TELECOM_USE = {"PRN": "home", "ORN": "home", "VHN": "home", "WPN": "work", "PRS": "mobile", "EMR": "temp"}
_TELECOM_SYSTEM = {"PH": "phone", "FX": "fax", "CP": "phone", "BP": "pager", "Internet": "email", "X.400": "email"}


def contact_point(raw: str, d: Delimiters, default_use: str | None = None) -> Json | None:
    """XTN to a ContactPoint; the number is rebuilt from XTN.5-8 when XTN.1 is empty."""
    equipment = split_value(raw, d, 3)
    system = _TELECOM_SYSTEM.get(equipment, "phone" if not equipment else "other")
    if system == "email":
        value = split_value(raw, d, 4) or split_value(raw, d, 1)
    else:
        value = split_value(raw, d, 12) or split_value(raw, d, 1)
        if not value:
            country, area, local, ext = (split_value(raw, d, c) for c in (5, 6, 7, 8))
            value = " ".join(p for p in (f"+{country}" if country else "", f"({area})" if area else "", local) if p)
            if value and ext:
                value += f" ext. {ext}"
    if not value:
        return None
    result: Json = {"system": system, "value": value}
    use = "mobile" if equipment == "CP" else _TELECOM_USE.get(split_value(raw, d, 2), default_use)
    if use:
        result["use"] = use
    return result


def codeable_concept(raw: str, d: Delimiters) -> Json | None:
    """CE/CWE to a CodeableConcept with the primary and alternate codings."""
    codings = []
    for code_c, text_c, system_c in ((1, 2, 3), (4, 5, 6)):
        code, display, system = (split_value(raw, d, c) for c in (code_c, text_c, system_c))
        if not code:
            continue
        coding: Json = {}
        uri = code_system_uri(system)
        if uri:
            coding["system"] = uri
        coding["code"] = code
        if display:
            coding["display"] = display
        codings.append(coding)
    text = split_value(raw, d, 9)
    if not codings and not text:
        # A CWE with only text in CWE.2 is still worth keeping as text.
        text = split_value(raw, d, 2)
    if not codings and not text:
        return None
    result: Json = {}
    if codings:
        result["coding"] = codings
    if text:
        result["text"] = text
    return result


def xcn_reference(raw: str, d: Delimiters) -> Json | None:
    """XCN (a person: id^family^given^middle^suffix^prefix) to a Reference with identifier and display.

    The server keeps no Practitioner directory, so the person is named, not linked.
    """
    value = split_value(raw, d, 1)
    parts = [split_value(raw, d, c) for c in (6, 3, 4, 2, 5)]
    display = " ".join(p for p in parts if p)
    if not value and not display:
        return None
    reference: Json = {}
    if value:
        system = hd_system(*(split_value(raw, d, 9, s) for s in (1, 2, 3)))
        reference["identifier"] = {**({"system": system} if system else {}), "value": value}
    if display:
        reference["display"] = display
    return reference


def xon_reference(raw: str, d: Delimiters) -> Json | None:
    """XON (an organization: name^type^id...) to a Reference with display (and identifier, XON.10 else XON.3)."""
    name = split_value(raw, d, 1)
    value = split_value(raw, d, 10) or split_value(raw, d, 3)
    if not name and not value:
        return None
    reference: Json = {}
    if value:
        reference["identifier"] = {"value": value}
    if name:
        reference["display"] = name
    return reference


def telecoms(segment: Segment, home: int, work: int, any_use: int) -> list[Json]:
    """The XTN fields of a person segment (PID-13/14/40, NK1-5/6/40) to ContactPoints.

    The v2.7+ field ``any_use`` replaces the home and work ones; its use comes from XTN.2.
    """
    d = segment.delimiters
    found = [contact_point(rep, d, "home") for rep in segment.repetitions(home)]
    found += [contact_point(rep, d, "work") for rep in segment.repetitions(work)]
    found += [contact_point(rep, d) for rep in segment.repetitions(any_use)]
    return [t for t in found if t]
