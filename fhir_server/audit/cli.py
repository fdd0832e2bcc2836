"""``fhir-server audit flush``: store every recorded access as an AuditEvent now."""

from __future__ import annotations

import click

from fhir_server.audit.drain import drain_all
from fhir_server.cli_support import server_state


@click.group()
def audit() -> None:
    """The audit trail of the FHIR API."""


@audit.command("flush")
def flush() -> None:
    """Store the accesses still waiting in the outbox as AuditEvent resources (servers do this every 0.5 s)."""
    state = server_state()
    try:
        stored = drain_all(state.sessions)
    finally:
        state.engine.dispose()
    click.echo(f"Stored {stored} audit events.")
