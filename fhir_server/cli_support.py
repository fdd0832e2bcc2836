"""What every command group of the ``fhir-server`` CLI shares (core, adapters, ML)."""

from __future__ import annotations

import click

from fhir_server.config import ConfigError, load_settings
from fhir_server.state import ServerState


def server_state() -> ServerState:
    """Settings, engine and sessions from the environment.

    :raises click.ClickException: naming each invalid setting, so a command fails with a message, not a traceback.
    """
    try:
        return ServerState.from_settings(load_settings())
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
