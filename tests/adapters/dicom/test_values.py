"""Tests for DICOM value normalisation (``adapters.dicom._values``)."""

from __future__ import annotations

import pytest
from pydicom.multival import MultiValue

from adapters.dicom import _values


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("20040826", "2004-08-26"),
        ("1997.04.24", "1997-04-24"),  # ACR-NEMA
        ("200408", "2004-08"),
        ("2004", "2004"),
        ("20040826 ", "2004-08-26"),
        ("", None),
        (None, None),
        ("00000000", None),
        ("20040230", None),  # no 30th of February
        ("20041301", None),
        ("20040101-20041231", None),  # a query range, not a value
        ("2004-08-26", None),
        ("garbage", None),
    ],
)
def test_fhir_date(raw: str | None, expected: str | None) -> None:
    assert _values.fhir_date(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("185059", "18:50:59"),
        ("185059.123456", "18:50:59.123456"),
        ("093431.70", "09:34:31.70"),
        ("1850", "18:50:00"),
        ("18", "18:00:00"),
        ("14:04:38", "14:04:38"),  # ACR-NEMA
        ("185059.", "18:50:59"),
        ("235960", "23:59:60"),  # leap second
        ("", None),
        ("246000", None),
        ("186000", None),
        ("185059.1234567", None),
        ("1", None),
    ],
)
def test_fhir_time(raw: str, expected: str | None) -> None:
    assert _values.fhir_time(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("-0500", "-05:00"), ("+1400", "+14:00"), ("+0000", "+00:00"), ("+1401", None), ("+0560", None), ("0500", None)],
)
def test_fhir_timezone(raw: str, expected: str | None) -> None:
    assert _values.fhir_timezone(raw) == expected


@pytest.mark.parametrize(
    ("day", "time", "zone", "expected"),
    [
        ("2004-08-26", "18:50:59", "-04:00", "2004-08-26T18:50:59-04:00"),
        ("2004-08-26", "18:50:59", None, "2004-08-26"),  # FHIR forbids a time without a zone
        ("2004-08", "18:50:59", "-04:00", "2004-08"),
        ("2004-08-26", None, "-04:00", "2004-08-26"),
        (None, "18:50:59", "-04:00", None),
    ],
)
def test_fhir_datetime(day: str | None, time: str | None, zone: str | None, expected: str | None) -> None:
    assert _values.fhir_datetime(day, time, zone) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(7, 7), ("  12 ", 12), ("-3", -3), ("1A", None), ("", None), (None, None), (MultiValue(str, ["4", "5"]), 4)],
)
def test_integer(raw: object, expected: int | None) -> None:
    assert _values.integer(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(" CT ", "CT"), ("1.2.3\x00", "1.2.3"), ("", None), ("   ", None), (None, None), (["A", "B"], "A"), ([], None)],
)
def test_text(raw: object, expected: str | None) -> None:
    assert _values.text(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Doe^Jane^Q^Dr.^Jr.", ("Doe", "Jane", "Q", "Dr.", "Jr.")),
        ("Doe", ("Doe", "", "", "", "")),
        ("OB^^^^", ("OB", "", "", "", "")),
        ("^^^^", None),
        ("", None),
        ("=Yamada^Taro", ("Yamada", "Taro", "", "", "")),  # ideographic group only
        ("Doe^Jane=Ideo^Graphic", ("Doe", "Jane", "", "", "")),
        (" Doe ^ Jane ", ("Doe", "Jane", "", "", "")),
    ],
)
def test_person_name_parts(raw: str, expected: tuple[str, ...] | None) -> None:
    assert _values.person_name_parts(raw) == expected


@pytest.mark.parametrize(
    ("uid", "valid"),
    [
        ("1.2.840.10008.1.2.1", True),
        ("0", True),
        ("1.2.0.3", True),
        ("1.2.03", False),  # leading zero in a component
        ("1.2.abc", False),
        ("1..2", False),
        ("1.2.", False),
        ("", False),
        ("1." + "2" * 62, True),
        ("1." + "2" * 63, False),  # 65 characters
    ],
)
def test_is_valid_uid(uid: str, valid: bool) -> None:
    assert _values.is_valid_uid(uid) is valid
