"""WSGI entry point for gunicorn and other servers: ``fhir_server.wsgi:app``."""

from __future__ import annotations

from fhir_server.app import create_app

app = create_app()
