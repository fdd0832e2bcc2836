"""SMART on FHIR authorization state: users, clients, signing keys, token revocations.

Secrets are stored only as argon2 hashes; signing keys as private JWKs (the
database is the key store, so every server process signs and verifies alike).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, intpk


class AuthUser(Base):
    """A person who signs in on the login page."""

    __tablename__ = "auth_user"

    pk: Mapped[intpk]
    username: Mapped[str] = mapped_column(String(128), unique=True)
    #: argon2id hash (PHC string) of the password.
    password_hash: Mapped[str] = mapped_column(String(256))
    #: ``Practitioner/ID``, ``Patient/ID`` or ``RelatedPerson/ID``: the FHIR resource the user is.
    fhir_user: Mapped[str | None] = mapped_column(String(140))
    created: Mapped[datetime]


class AuthClient(Base):
    """A registered SMART app or backend service."""

    __tablename__ = "auth_client"

    pk: Mapped[intpk]
    client_id: Mapped[str] = mapped_column(String(128), unique=True)
    #: ``none`` (public), ``client_secret_basic`` (symmetric) or ``private_key_jwt`` (asymmetric).
    auth_method: Mapped[str] = mapped_column(String(32))
    #: argon2id hash of the client secret, for ``client_secret_basic``.
    secret_hash: Mapped[str | None] = mapped_column(String(256))
    #: The client's public keys (a JWK Set as JSON) or where to fetch them, for ``private_key_jwt``.
    jwks: Mapped[str | None] = mapped_column(Text)
    jwks_url: Mapped[str | None] = mapped_column(String(2000))
    #: Space-separated exact redirect URIs.
    redirect_uris: Mapped[str] = mapped_column(Text, default="")
    #: Space-separated scopes: the most the client may be granted.
    scope: Mapped[str] = mapped_column(Text)
    created: Mapped[datetime]
    #: The RFC 7591 metadata a dynamically registered client was registered with (JSON); ``None`` for
    #: a client added with ``fhir-server auth client add``.
    registration: Mapped[str | None] = mapped_column(Text, default=None)


class AuthSigningKey(Base):
    """A private key the server signs access tokens with; the newest unretired one signs."""

    __tablename__ = "auth_signing_key"

    pk: Mapped[intpk]
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    #: The private key as a JWK (JSON).
    private_jwk: Mapped[str] = mapped_column(Text)
    created: Mapped[datetime]
    #: Set by rotation; a retired key still verifies (and is published) until its tokens expire.
    retired: Mapped[datetime | None]


class AuthRevokedToken(Base):
    """An access or refresh token revoked before its expiry (RFC 7009), by JWT id."""

    __tablename__ = "auth_revoked_token"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: After this the token is refused anyway and the row may be purged.
    expires: Mapped[datetime]


class AuthAssertionJti(Base):
    """A client assertion already used: a replay of its ``jti`` is refused."""

    __tablename__ = "auth_assertion_jti"

    jti: Mapped[str] = mapped_column(String(255), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(128))
    expires: Mapped[datetime]


class AuthCode(Base):
    """An authorization code (RFC 6749 section 4.1) awaiting its one exchange at the token endpoint.

    Only the SHA-256 of the code is stored, so a database reader cannot redeem a pending code.
    """

    __tablename__ = "auth_code"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(128))
    redirect_uri: Mapped[str] = mapped_column(String(2000))
    #: The scopes granted on the approval page (space-separated).
    scope: Mapped[str] = mapped_column(Text)
    #: PKCE (RFC 7636) S256 challenge: base64url(SHA-256(verifier)).
    code_challenge: Mapped[str] = mapped_column(String(128))
    #: The signed-in user's name and FHIR resource (``Practitioner/ID``...).
    username: Mapped[str] = mapped_column(String(128))
    fhir_user: Mapped[str | None] = mapped_column(String(140))
    #: The launch context the token will carry.
    patient: Mapped[str | None] = mapped_column(String(64))
    encounter: Mapped[str | None] = mapped_column(String(64))
    #: Whether the app was launched with a patient (``need_patient_banner``).
    need_patient_banner: Mapped[bool] = mapped_column(default=False)
    expires: Mapped[datetime]
    #: Set on exchange; a second exchange is refused.
    used: Mapped[datetime | None]


class AuthLaunch(Base):
    """An EHR launch context (``fhir-server auth launch``), named by the opaque ``launch`` value."""

    __tablename__ = "auth_launch"

    launch_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    patient: Mapped[str | None] = mapped_column(String(64))
    encounter: Mapped[str | None] = mapped_column(String(64))
    created: Mapped[datetime]
    expires: Mapped[datetime]


class AuthSecret(Base):
    """A server-side secret created once and shared by every process (e.g. the browser-session key)."""

    __tablename__ = "auth_secret"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(256))
    created: Mapped[datetime]


class AuthRegistrationToken(Base):
    """An initial access token (RFC 7591 section 3) that lets its bearer register clients at ``/auth/register``.

    Issued by ``fhir-server auth registration-token``; only the SHA-256 of the value is stored.
    A client registered with it is granted at most ``scope``.
    """

    __tablename__ = "auth_registration_token"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: Space-separated scopes: the ceiling of what a client registered with this token may be granted.
    scope: Mapped[str] = mapped_column(Text)
    created: Mapped[datetime]
    #: After this the token registers nothing.
    expires: Mapped[datetime]
