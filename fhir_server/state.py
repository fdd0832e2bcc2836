"""What a running app holds: settings, engine and session factory (``app.extensions``)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from conformance.validation import set_r4b_crosscheck
from fhir_server.audit.outbox import GroupWriter
from fhir_server.auth.service import AuthService
from fhir_server.config import Settings
from fhir_server.db import make_autocommit_engine, make_engine, make_session_factory

EXTENSION_KEY = "fhir_server"


@dataclass(frozen=True, slots=True)
class ServerState:
    """Process-wide resources shared by all requests."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    #: One-statement work beside requests (revocation checks, audit records): :func:`make_autocommit_engine`.
    autocommit_engine: Engine
    #: SMART authorization (keys, tokens); ``None`` when ``FHIR_SERVER_AUTH=off``.
    auth: AuthService | None = None
    #: Where the REST layer's audit records go, several requests per INSERT; ``None`` when auth is off.
    audit_writer: GroupWriter | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> ServerState:
        # Every entry point (app, CLI, load workers) builds its state here, so process-wide
        # settings are applied here too.
        set_r4b_crosscheck(settings.r4b_crosscheck)
        engine = make_engine(settings.database_url)
        sessions = make_session_factory(engine)
        autocommit_engine = make_autocommit_engine(engine)
        auth = (
            AuthService.create(sessions, autocommit_engine, token_lifetime=settings.token_lifetime)
            if settings.auth == "smart"
            else None
        )
        audit_writer = GroupWriter(autocommit_engine) if auth is not None else None
        return cls(settings, engine, sessions, autocommit_engine, auth, audit_writer)
