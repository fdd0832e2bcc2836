"""Registered clients and users: the store behind the CLI, the token endpoint and the login page.

Passwords and client secrets are kept only as argon2id hashes (argon2-cffi).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from joserfc.jwk import KeySet
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from fhir_server.auth.scopes import Grant
from models import AuthClient, AuthUser

_HASHER = PasswordHasher()
#: ``--fhir-user`` must name one of these.
FHIR_USER_TYPES = ("Practitioner", "Patient", "RelatedPerson", "Person")


class RegistrationError(ValueError):
    """A client or user that cannot be registered as given; the message says why."""


def hash_secret(secret: str) -> str:
    return _HASHER.hash(secret)


def verify_secret(hashed: str | None, secret: str) -> bool:
    if not hashed:
        return False
    try:
        return _HASHER.verify(hashed, secret)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True, slots=True)
class ClientSpec:
    """What ``auth client add`` (or dynamic registration) registers."""

    client_id: str
    scope: str
    redirect_uris: tuple[str, ...] = ()
    secret: str | None = None
    jwks: str | None = None
    jwks_url: str | None = None
    #: The RFC 7591 metadata (JSON) of a dynamically registered client; see :mod:`fhir_server.auth.registration`.
    registration: str | None = None

    @property
    def auth_method(self) -> str:
        if self.jwks or self.jwks_url:
            return "private_key_jwt"
        return "client_secret_basic" if self.secret else "none"


def add_client(session: Session, spec: ClientSpec) -> AuthClient:
    """Register a client; :raises RegistrationError: for a duplicate id, bad scopes or an unreadable JWKS."""
    if sum(x is not None for x in (spec.secret, spec.jwks, spec.jwks_url)) > 1:
        raise RegistrationError("Give at most one of a secret, a JWKS or a JWKS URL.")
    Grant.parse(spec.scope)  # raises InvalidScope (a ValueError) naming a malformed scope
    if spec.jwks is not None:
        try:
            KeySet.import_key_set(json.loads(spec.jwks))
        except (ValueError, KeyError, TypeError) as exc:
            raise RegistrationError(f"The JWKS is not a JWK Set of public keys: {exc}") from exc
    if find_client(session, spec.client_id) is not None:
        raise RegistrationError(f"A client `{spec.client_id}` is already registered.")
    for uri in spec.redirect_uris:
        if not uri.startswith(("https://", "http://")):
            raise RegistrationError(f"Redirect URI `{uri}` must be an absolute http(s) URL.")
    row = AuthClient(
        client_id=spec.client_id,
        auth_method=spec.auth_method,
        secret_hash=hash_secret(spec.secret) if spec.secret else None,
        jwks=spec.jwks,
        jwks_url=spec.jwks_url,
        redirect_uris=" ".join(spec.redirect_uris),
        scope=" ".join(spec.scope.split()),
        created=datetime.now(UTC),
        registration=spec.registration,
    )
    session.add(row)
    session.flush()
    return row


def find_client(session: Session, client_id: str) -> AuthClient | None:
    return session.scalars(select(AuthClient).where(AuthClient.client_id == client_id)).first()


def list_clients(session: Session) -> list[AuthClient]:
    return list(session.scalars(select(AuthClient).order_by(AuthClient.client_id)))


def remove_client(session: Session, client_id: str) -> bool:
    return bool(session.execute(delete(AuthClient).where(AuthClient.client_id == client_id)).rowcount)  # type: ignore[attr-defined]


def add_user(session: Session, username: str, password: str, fhir_user: str | None) -> AuthUser:
    """Register a user; :raises RegistrationError: for a duplicate name, a short password or a bad fhirUser."""
    if len(password) < 8:
        raise RegistrationError("The password must be at least 8 characters long.")
    if fhir_user is not None:
        kind, _, ident = fhir_user.partition("/")
        if kind not in FHIR_USER_TYPES or not ident:
            raise RegistrationError(f"--fhir-user must be `Type/id` with Type one of {', '.join(FHIR_USER_TYPES)}.")
    if find_user(session, username) is not None:
        raise RegistrationError(f"A user `{username}` is already registered.")
    row = AuthUser(
        username=username, password_hash=hash_secret(password), fhir_user=fhir_user, created=datetime.now(UTC)
    )
    session.add(row)
    session.flush()
    return row


def find_user(session: Session, username: str) -> AuthUser | None:
    return session.scalars(select(AuthUser).where(AuthUser.username == username)).first()


def list_users(session: Session) -> list[AuthUser]:
    return list(session.scalars(select(AuthUser).order_by(AuthUser.username)))


def remove_user(session: Session, username: str) -> bool:
    return bool(session.execute(delete(AuthUser).where(AuthUser.username == username)).rowcount)  # type: ignore[attr-defined]
