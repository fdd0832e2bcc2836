"""Access tokens: signed JWTs (RFC 9068 shape) minted and verified with joserfc.

A token carries everything enforcement needs (scope, patient, fhirUser, client),
so a request costs one signature check and one primary-key look-up of the
revocation table, which makes a revocation effective at once in every process.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from joserfc import jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jws import extract_compact
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from fhir_server.auth.keys import ALGORITHMS, SIGNING_ALGORITHM, KeyStore
from fhir_server.db import unit_of_work
from models import AuthRevokedToken


class InvalidToken(Exception):
    """A bearer token that must be refused with 401; ``description`` says why (never the token)."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


@dataclass(frozen=True, slots=True)
class AccessToken:
    """The verified claims of an access token."""

    jti: str
    client_id: str
    #: The user's name, or the client id for a backend service.
    subject: str
    scope: str
    expires: int
    patient: str | None = None
    encounter: str | None = None
    fhir_user: str | None = None

    def claims(self, issuer: str, audience: str) -> dict[str, Any]:
        claims: dict[str, Any] = {
            "iss": issuer,
            "aud": audience,
            "sub": self.subject,
            "client_id": self.client_id,
            "scope": self.scope,
            "jti": self.jti,
            "iat": int(time.time()),
            "exp": self.expires,
        }
        for name, value in (("patient", self.patient), ("encounter", self.encounter), ("fhirUser", self.fhir_user)):
            if value is not None:
                claims[name] = value
        return claims


class TokenService:
    """Mints and verifies this server's access tokens."""

    def __init__(self, sessions: sessionmaker[Session], keys: KeyStore, *, lifetime: int) -> None:
        self._sessions = sessions
        self.keys = keys
        #: Seconds an access token is valid.
        self.lifetime = lifetime

    def mint(
        self,
        *,
        issuer: str,
        audience: str,
        client_id: str,
        subject: str,
        scope: str,
        patient: str | None = None,
        encounter: str | None = None,
        fhir_user: str | None = None,
    ) -> tuple[str, AccessToken]:
        """A signed access token for the FHIR server at ``audience``, and its claims."""
        token = AccessToken(
            jti=uuid.uuid4().hex,
            client_id=client_id,
            subject=subject,
            scope=scope,
            expires=int(time.time()) + self.lifetime,
            patient=patient,
            encounter=encounter,
            fhir_user=fhir_user,
        )
        key = self.keys.signing_key()
        header = {"alg": SIGNING_ALGORITHM, "kid": key.kid, "typ": "at+jwt"}
        return jwt.encode(header, token.claims(issuer, audience), key, algorithms=ALGORITHMS), token

    def verify(self, value: str, *, audience: str) -> AccessToken:
        """The claims of a valid, unexpired, unrevoked token issued for ``audience``.

        :raises InvalidToken: otherwise, saying which check failed.
        """
        try:
            kid = extract_compact(value.encode()).headers().get("kid")
            decoded = jwt.decode(value, self.keys.verification_keys(kid), algorithms=ALGORITHMS)
        except (JoseError, ValueError) as exc:
            raise InvalidToken("The access token is malformed or its signature does not verify.") from exc
        claims = decoded.claims
        registry = jwt.JWTClaimsRegistry(
            aud={"essential": True, "value": audience},
            exp={"essential": True},
            jti={"essential": True},
            client_id={"essential": True},
            scope={"essential": True},
        )
        try:
            registry.validate(claims)
        except ExpiredTokenError as exc:
            raise InvalidToken("The access token has expired.") from exc
        except JoseError as exc:
            raise InvalidToken(f"The access token is not valid for this server ({exc.description}).") from exc
        if self.is_revoked(claims["jti"]):
            raise InvalidToken("The access token has been revoked.")
        return AccessToken(
            jti=claims["jti"],
            client_id=claims["client_id"],
            subject=str(claims.get("sub") or claims["client_id"]),
            scope=claims["scope"],
            expires=int(claims["exp"]),
            patient=claims.get("patient"),
            encounter=claims.get("encounter"),
            fhir_user=claims.get("fhirUser"),
        )

    def is_revoked(self, jti: str) -> bool:
        with unit_of_work(self._sessions, write=False) as session:
            return session.execute(select(AuthRevokedToken.jti).where(AuthRevokedToken.jti == jti)).first() is not None

    def revoke(self, session: Session, jti: str, expires: int) -> None:
        """Refuse the token with this id from now on, in every process."""
        if session.get(AuthRevokedToken, jti) is None:
            session.add(AuthRevokedToken(jti=jti, expires=datetime.fromtimestamp(expires, UTC)))
