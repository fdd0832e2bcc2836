"""FHIR R4 server: Flask REST API over one repository API shared by every writer."""

from __future__ import annotations

from fhir_server.app import create_app

__all__ = ["create_app"]
