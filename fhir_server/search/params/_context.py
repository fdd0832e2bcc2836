"""What value conditions need to know besides the value itself."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fhir_server.errors import BadRequest


@dataclass(frozen=True, slots=True)
class PlanContext:
    """Server facts a condition may depend on."""

    #: This server's FHIR base URL: absolute references to it are local references.
    base_url: str
    #: "Now", for the ``ap`` prefix on dates.
    now: datetime


class UnsupportedSearch(BadRequest):
    """A parameter, modifier or value form this server does not support."""

    code = "not-supported"
