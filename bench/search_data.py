"""Synthetic Synthea-like data for the search benchmark, bulk-loaded with COPY.

Resources are generated, stamped and indexed by the server's own extraction code
(:func:`fhir_server.search.sort_values.search_index_values` and the repository's
row layout), then streamed to PostgreSQL with COPY: the same rows the write path
would produce, at bulk speed. Deterministic for a given seed.
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from conformance.search_parameters import default_registry
from fhir_server.repository._indexing import _TABLE_OF, _fields
from fhir_server.repository.protocol import format_instant
from fhir_server.search.sort_values import search_index_values
from models.search import INDEX_TABLES

FAMILIES = [
    f"{a}{b}"
    for a in ("Smith", "Jones", "Garcia", "Nguyen", "Brown", "Okafor", "Kowalski", "Haddad")
    for b in ("", "son", "ez", "ski", "er", "man", "ley", "ton", "berg", "field")
]
GIVEN = [
    "Ann",
    "Bob",
    "Cara",
    "Dev",
    "Eli",
    "Fay",
    "Gus",
    "Hana",
    "Ivo",
    "Jun",
    "Kai",
    "Lea",
    "Max",
    "Noa",
    "Oli",
    "Pia",
]
#: (LOINC code, display, unit, typical value, spread)
CODES = [
    ("8867-4", "Heart rate", "/min", 80, 15),
    ("9279-1", "Respiratory rate", "/min", 16, 4),
    ("8480-6", "Systolic blood pressure", "mm[Hg]", 125, 20),
    ("8462-4", "Diastolic blood pressure", "mm[Hg]", 80, 10),
    ("8310-5", "Body temperature", "Cel", 37, 0.6),
    ("59408-5", "Oxygen saturation", "%", 97, 2),
    ("29463-7", "Body weight", "kg", 75, 15),
    ("8302-2", "Body height", "cm", 170, 10),
    ("39156-5", "BMI", "kg/m2", 26, 4),
    ("2339-0", "Glucose", "mg/dL", 100, 20),
    ("2093-3", "Cholesterol", "mg/dL", 190, 30),
    ("718-7", "Hemoglobin", "g/dL", 14, 1.5),
    ("6690-2", "Leukocytes", "10*3/uL", 7, 2),
    ("777-3", "Platelets", "10*3/uL", 250, 50),
    ("2951-2", "Sodium", "mmol/L", 140, 3),
    ("2823-3", "Potassium", "mmol/L", 4.2, 0.4),
    ("2160-0", "Creatinine", "mg/dL", 1.0, 0.2),
    ("6299-2", "Urea nitrogen", "mg/dL", 14, 4),
    ("1742-6", "ALT", "U/L", 25, 10),
    ("4548-4", "Hemoglobin A1c", "%", 5.7, 0.6),
]
START = datetime(2015, 1, 1, tzinfo=UTC)
SPAN_DAYS = 3650


def patient(i: int, rng: random.Random) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": f"pat-{i}",
        "identifier": [{"system": "urn:bench:mrn", "value": f"MRN{i:07d}"}],
        "name": [{"family": FAMILIES[i % len(FAMILIES)], "given": [GIVEN[i % len(GIVEN)]]}],
        "gender": rng.choice(["male", "female"]),
        "birthDate": f"{rng.randint(1930, 2010)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        "address": [{"city": rng.choice(["Springfield", "Riverton", "Lakeside", "Hillview"]), "country": "US"}],
    }


def encounter(pid: int, n: int, when: datetime) -> dict[str, Any]:
    return {
        "resourceType": "Encounter",
        "id": f"enc-{pid}-{n}",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": {"reference": f"Patient/pat-{pid}"},
        "period": {"start": when.isoformat(), "end": (when + timedelta(hours=1)).isoformat()},
    }


def observation(pid: int, n: int, rng: random.Random) -> dict[str, Any]:
    code, display, unit, mean, spread = CODES[rng.randrange(len(CODES))]
    when = START + timedelta(days=rng.uniform(0, SPAN_DAYS))
    return {
        "resourceType": "Observation",
        "id": f"obs-{pid}-{n}",
        "status": "final",
        "category": [
            {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}
                ]
            }
        ],
        "code": {"coding": [{"system": "http://loinc.org", "code": code, "display": display}], "text": display},
        "subject": {"reference": f"Patient/pat-{pid}"},
        "encounter": {"reference": f"Encounter/enc-{pid}-{n % 2}"},
        "effectiveDateTime": when.replace(microsecond=0).isoformat(),
        "valueQuantity": {
            "value": round(rng.gauss(mean, spread), 1),
            "unit": unit,
            "system": "http://unitsofmeasure.org",
            "code": unit,
        },
    }


def resources(first: int, last: int, observations_per_patient: int, seed: int = 2026) -> Iterator[dict[str, Any]]:
    """Patients ``first``..``last - 1``, two Encounters each, and their Observations.

    Each patient has its own random stream, so any range can be generated alone.
    """
    for pid in range(first, last):
        rng = random.Random(seed * 1_000_003 + pid)
        yield patient(pid, rng)
        for n in range(2):
            yield encounter(pid, n, START + timedelta(days=rng.uniform(0, SPAN_DAYS)))
        for n in range(observations_per_patient):
            yield observation(pid, n, rng)


class CopyBuffers:
    """CSV buffers, one per table, flushed to PostgreSQL with COPY."""

    def __init__(self) -> None:
        self.registry = default_registry()
        self.buffers: dict[str, io.StringIO] = {}
        self.writers: dict[str, Any] = {}
        self.columns: dict[str, list[str]] = {
            "resource": ["pk", "resource_type", "fhir_id", "version_id", "last_updated", "deleted", "content"],
            "resource_history": [
                "pk",
                "resource_pk",
                "resource_type",
                "fhir_id",
                "version_id",
                "last_updated",
                "method",
                "content",
            ],
        }
        for model in INDEX_TABLES:
            table = model.__table__
            self.columns[table.name] = [c.name for c in table.columns if c.name != "pk"]
        self.reset()

    def reset(self) -> None:
        for name in self.columns:
            self.buffers[name] = io.StringIO()
            self.writers[name] = csv.writer(self.buffers[name])

    def add(self, pk: int, resource: dict[str, Any], now: datetime) -> None:
        resource["meta"] = {"versionId": "1", "lastUpdated": format_instant(now)}
        content = orjson.dumps(resource)
        hex_content = "\\x" + content.hex()
        rtype, rid = resource["resourceType"], resource["id"]
        self.writers["resource"].writerow([pk, rtype, rid, 1, now.isoformat(), "f", hex_content])
        self.writers["resource_history"].writerow([pk, pk, rtype, rid, 1, now.isoformat(), "PUT", hex_content])
        for value in search_index_values(resource, self.registry):
            table = _TABLE_OF[type(value)].name
            fields = _fields(value)
            fields.update(resource_pk=pk, resource_type=rtype)
            self.writers[table].writerow([_csv(fields.get(c)) for c in self.columns[table]])

    def take(self) -> dict[str, str]:
        """The CSV text of each table so far, and empty buffers."""
        out = {name: buffer.getvalue() for name, buffer in self.buffers.items()}
        self.reset()
        return out


def generate_chunk(args: tuple[int, int, int, datetime]) -> dict[str, str]:
    """CSV text per table for patients ``first``..``last - 1`` (runs in a worker process)."""
    first, last, obs, now = args
    buffers = CopyBuffers()
    pk = first * (3 + obs) + 1
    for resource in resources(first, last, obs):
        buffers.add(pk, resource, now)
        pk += 1
    return buffers.take()


def copy_chunk(cursor: Any, chunk: dict[str, str], columns: dict[str, list[str]]) -> None:
    """COPY one chunk's CSV text into its tables."""
    for name, data in chunk.items():
        if data:
            cursor.copy_expert(
                f"COPY {name} ({', '.join(columns[name])}) FROM STDIN WITH (FORMAT csv)", io.StringIO(data)
            )


def _csv(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return value
