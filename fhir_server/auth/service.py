"""What a server process holds for SMART authorization: the key store and the token service."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from fhir_server.auth.keys import KeyStore
from fhir_server.auth.tokens import TokenService


@dataclass(frozen=True, slots=True)
class AuthService:
    """Built once per process (see :class:`fhir_server.state.ServerState`); touches the database lazily."""

    tokens: TokenService

    @classmethod
    def create(cls, sessions: sessionmaker[Session], autocommit_engine: Engine, *, token_lifetime: int) -> AuthService:
        # A retired key keeps verifying for one token lifetime, so rotation never cuts a live token off.
        keys = KeyStore(sessions, keep_retired_for=timedelta(seconds=token_lifetime))
        return cls(TokenService(keys, autocommit_engine, lifetime=token_lifetime))


def authorization_base(fhir_base: str) -> str:
    """Where the authorization endpoints live for the FHIR endpoint ``fhir_base`` (``…/fhir`` → ``…/auth``)."""
    root = fhir_base.removesuffix("/fhir")
    return f"{root}/auth"
