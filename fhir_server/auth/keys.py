"""The server's token-signing keys: generated on first use, stored in the database, rotatable.

Keys live in ``auth_signing_key`` so every process (gunicorn workers, CLI) signs
and verifies with the same set. The newest unretired key signs; retired keys keep
verifying (and stay in the JWKS) until every token they signed has expired.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from fhir_server.db import unit_of_work
from models import AuthSigningKey

#: SMART's recommended signature algorithms; access tokens are signed with the first.
ALGORITHMS = ["RS384", "ES384"]
SIGNING_ALGORITHM = "RS384"
#: Seconds a process signs with the key it last loaded before looking again, so a rotation made
#: elsewhere (``fhir-server auth rotate-keys``) reaches every running server within this time.
KEY_RELOAD_INTERVAL = 30.0


def _new_key() -> AuthSigningKey:
    kid = uuid.uuid4().hex
    key = RSAKey.generate_key(2048, parameters={"kid": kid, "alg": SIGNING_ALGORITHM, "use": "sig"}, private=True)
    return AuthSigningKey(kid=kid, private_jwk=json.dumps(key.as_dict(private=True)), created=datetime.now(UTC))


def rotate(session: Session, *, keep_for: timedelta) -> str:
    """Retire the signing keys and add a new one; returns the new key's id.

    Keys retired longer than ``keep_for`` ago (the token lifetime) are deleted.
    """
    now = datetime.now(UTC)
    session.execute(
        delete(AuthSigningKey).where(AuthSigningKey.retired.is_not(None), AuthSigningKey.retired < now - keep_for)
    )
    session.execute(update(AuthSigningKey).where(AuthSigningKey.retired.is_(None)).values(retired=now))
    key = _new_key()
    session.add(key)
    session.flush()
    return key.kid


class KeyStore:
    """This process's view of the signing keys.

    Reloaded when a token names an unknown key, and before signing or publishing once the
    last load is :data:`KEY_RELOAD_INTERVAL` seconds old.
    """

    def __init__(self, sessions: sessionmaker[Session], *, keep_retired_for: timedelta) -> None:
        self._sessions = sessions
        #: How long a retired key keeps verifying: the token lifetime.
        self.keep_retired_for = keep_retired_for
        self._lock = threading.Lock()
        self._keys: dict[str, RSAKey] = {}
        self._signing_kid: str | None = None
        self._loaded_at = -KEY_RELOAD_INTERVAL

    def signing_key(self) -> RSAKey:
        """The key new tokens are signed with, creating the first one if there is none."""
        if self._signing_kid is None or time.monotonic() - self._loaded_at >= KEY_RELOAD_INTERVAL:
            self.reload()
        if self._signing_kid is None:
            with unit_of_work(self._sessions) as session:
                session.add(_new_key())
            self.reload()
        assert self._signing_kid is not None
        return self._keys[self._signing_kid]

    def verification_keys(self, kid: str | None = None) -> KeySet:
        """Every key a valid token may be signed with; reloads first when ``kid`` is not known."""
        if not self._keys or (kid is not None and kid not in self._keys):
            self.reload()
        return KeySet(list(self._keys.values()))

    def public_jwks(self) -> dict[str, object]:
        """The JWK Set published at the JWKS endpoint (public parts only)."""
        self.signing_key()
        return {"keys": [k.as_dict(private=False) for k in self._keys.values()]}

    def reload(self) -> None:
        cutoff = datetime.now(UTC) - self.keep_retired_for
        with unit_of_work(self._sessions, write=False) as session:
            rows = session.scalars(
                select(AuthSigningKey)
                .where(or_(AuthSigningKey.retired.is_(None), AuthSigningKey.retired >= cutoff))
                .order_by(AuthSigningKey.pk)
            ).all()
        keys = {row.kid: RSAKey.import_key(json.loads(row.private_jwk)) for row in rows}
        signing = [row.kid for row in rows if row.retired is None]
        with self._lock:
            self._keys = keys
            self._signing_kid = signing[-1] if signing else None
            self._loaded_at = time.monotonic()
