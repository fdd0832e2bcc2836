"""Access tokens: signed JWTs (RFC 9068 shape) minted and verified with joserfc.

A token carries everything enforcement needs (scope, patient, fhirUser, client).
A request costs:

* the signature and claims check, once per token and process: verified tokens are
  kept (up to :data:`VERIFIED_CACHE_SIZE`), so a client's later requests pay a
  dictionary look-up and an expiry comparison instead of an RSA verification;
* the revocation check: a set look-up while the process's
  :class:`~fhir_server.auth.revocations.RevocationWatch` hears PostgreSQL's
  notifications, else one primary-key look-up of the revocation table in one round
  trip. Either way a revocation is effective at once in every process.
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
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from fhir_server.auth.keys import ALGORITHMS, SIGNING_ALGORITHM, KeyStore
from fhir_server.auth.revocations import RevocationWatch
from models import AuthRevokedToken

#: Verified tokens a process keeps; when full it starts over (a client's next request re-verifies).
VERIFIED_CACHE_SIZE = 4096


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
    #: When it was issued (``iat``); ``None``: when the claims are made.
    issued_at: int | None = None

    def claims(self, issuer: str, audience: str) -> dict[str, Any]:
        claims: dict[str, Any] = {
            "iss": issuer,
            "aud": audience,
            "sub": self.subject,
            "client_id": self.client_id,
            "scope": self.scope,
            "jti": self.jti,
            "iat": self.issued_at if self.issued_at is not None else int(time.time()),
            "exp": self.expires,
        }
        for name, value in (("patient", self.patient), ("encounter", self.encounter), ("fhirUser", self.fhir_user)):
            if value is not None:
                claims[name] = value
        return claims


class TokenService:
    """Mints and verifies this server's access tokens."""

    def __init__(self, keys: KeyStore, autocommit_engine: Engine, *, lifetime: int) -> None:
        #: Which tokens are revoked; :meth:`RevocationWatch.start` it in a serving process.
        self.revocations = RevocationWatch(autocommit_engine)
        self.keys = keys
        #: (audience, token) -> claims of tokens whose signature and claims were checked.
        self._verified: dict[tuple[str, str], AccessToken] = {}
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
        # One clock reading for both, so ``exp - iat`` is the lifetime even across a second boundary.
        now = int(time.time())
        token = AccessToken(
            jti=uuid.uuid4().hex,
            client_id=client_id,
            subject=subject,
            scope=scope,
            expires=now + self.lifetime,
            patient=patient,
            encounter=encounter,
            fhir_user=fhir_user,
            issued_at=now,
        )
        key = self.keys.signing_key()
        header = {"alg": SIGNING_ALGORITHM, "kid": key.kid, "typ": "at+jwt"}
        return jwt.encode(header, token.claims(issuer, audience), key, algorithms=ALGORITHMS), token

    def verify(self, value: str, *, audience: str) -> AccessToken:
        """The claims of a valid, unexpired, unrevoked token issued for ``audience``.

        :raises InvalidToken: otherwise, saying which check failed.
        """
        token = self._verified.get((audience, value))
        if token is None:
            token = self._verify_signed(value, audience=audience)
            if len(self._verified) >= VERIFIED_CACHE_SIZE:
                self._verified.clear()
            self._verified[(audience, value)] = token
        elif token.expires <= time.time():
            self._verified.pop((audience, value), None)
            raise InvalidToken("The access token has expired.")
        if self.is_revoked(token.jti):
            raise InvalidToken("The access token has been revoked.")
        return token

    def _verify_signed(self, value: str, *, audience: str) -> AccessToken:
        """The claims of ``value`` once its signature, audience and expiry are checked (not revocation)."""
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
        return self.revocations.is_revoked(jti)

    def revoke(self, session: Session, jti: str, expires: int) -> None:
        """Refuse the token with this id from now on, in every process."""
        if session.get(AuthRevokedToken, jti) is None:
            session.add(AuthRevokedToken(jti=jti, expires=datetime.fromtimestamp(expires, UTC)))
        self.revocations.add(jti)
