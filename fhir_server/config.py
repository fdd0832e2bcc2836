"""Server configuration from environment variables and an optional JSON file.

Every setting has an environment variable ``FHIR_SERVER_<NAME>``; a JSON file named
by ``FHIR_SERVER_CONFIG_FILE`` may supply defaults, and the environment wins.
Values are validated with marshmallow so a typo fails at start-up with a message
naming the variable, not at the first request.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, validate

from fhir_server.db import UnsupportedDatabaseUrl, normalize_database_url

ENV_PREFIX = "FHIR_SERVER_"
DEFAULT_DATABASE_URL = "sqlite:///var/fhir.sqlite3"


class ConfigError(Exception):
    """The configuration is invalid; the message names each bad setting."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Validated server settings."""

    #: SQLAlchemy URL (``postgres://`` and ``postgresql://`` get psycopg2, see
    #: :func:`fhir_server.db.normalize_database_url`); the default is an embedded SQLite file under ``./var/``.
    database_url: str
    #: Public base URL of the FHIR endpoint, used in Location headers and links;
    #: ``None`` means derive it from each request's host.
    base_url: str | None
    #: Largest request body accepted, in bytes (413 above it).
    max_body_bytes: int
    #: Default and largest page size for history and search.
    default_page_size: int
    max_page_size: int
    #: The most resources one conditional delete may remove; 1 is the spec's "single"
    #: mode (more matches give 412), above 1 is "multiple".
    conditional_delete_max: int = 1
    #: Also check each write with the fhir.resources R4B pydantic models after the R4
    #: StructureDefinition walker (see :mod:`conformance.validation`); about 3/4 of validation time.
    r4b_crosscheck: bool = True
    #: ``smart`` (the default): every request needs a SMART access token; ``off``: an open
    #: server, only when set explicitly (a warning is logged at every start).
    auth: str = "smart"
    #: Seconds an access token is valid.
    token_lifetime: int = 3600
    #: Browser origins allowed to call the API (CORS); ``*`` for any. Empty: none.
    cors_origins: tuple[str, ...] = ()
    #: Seconds between rounds of storing recorded accesses as AuditEvents in this process; 0: never
    #: (``fhir-server audit flush`` or another process does it).
    audit_drain_interval: float = 0.5
    #: On PostgreSQL, learn of revocations from notifications (one listening connection per
    #: process) instead of a query per request; see :mod:`fhir_server.auth.revocations`.
    revocation_listen: bool = True


class _SettingsSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    database_url = fields.String(load_default=DEFAULT_DATABASE_URL, validate=validate.Length(min=1))
    base_url = fields.Url(load_default=None, allow_none=True, require_tld=False, schemes={"http", "https"})
    max_body_bytes = fields.Integer(load_default=16 * 1024 * 1024, validate=validate.Range(min=1024))
    default_page_size = fields.Integer(load_default=20, validate=validate.Range(min=1, max=1000))
    max_page_size = fields.Integer(load_default=1000, validate=validate.Range(min=1, max=10000))
    conditional_delete_max = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10000))
    r4b_crosscheck = fields.Boolean(load_default=True)
    auth = fields.String(load_default="smart", validate=validate.OneOf(["smart", "off"]))
    token_lifetime = fields.Integer(load_default=3600, validate=validate.Range(min=60, max=86400))
    #: Comma-separated origins such as ``https://app.example.org``.
    cors_origins = fields.String(load_default="")
    audit_drain_interval = fields.Float(load_default=0.5, validate=validate.Range(min=0, max=3600))
    revocation_listen = fields.Boolean(load_default=True)

    @post_load
    def _build(self, data: dict[str, Any], **_: Any) -> Settings:
        try:
            data["database_url"] = normalize_database_url(data["database_url"])
        except UnsupportedDatabaseUrl as exc:
            raise ValidationError(str(exc), "database_url") from exc
        origins = tuple(o.strip().rstrip("/") for o in data["cors_origins"].split(",") if o.strip())
        bad = [o for o in origins if o != "*" and not o.startswith(("https://", "http://"))]
        if bad:
            raise ValidationError(f"`{bad[0]}` is not an origin such as https://app.example.org.", "cors_origins")
        data["cors_origins"] = origins
        if data["base_url"]:
            data["base_url"] = data["base_url"].rstrip("/")
        return Settings(**data)


def load_settings(overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Build settings from the config file, the environment and explicit overrides.

    :param overrides: values by setting name (``database_url``...), highest precedence.
    :param environ: the environment to read; ``os.environ`` by default.
    :raises ConfigError: naming each invalid setting and why.
    """
    environ = os.environ if environ is None else environ
    raw: dict[str, Any] = {}
    config_file = environ.get(ENV_PREFIX + "CONFIG_FILE")
    if config_file:
        try:
            raw.update(json.loads(Path(config_file).read_text()))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"Cannot read config file `{config_file}`: {exc}") from exc
    for name in _SettingsSchema().fields:
        value = environ.get(ENV_PREFIX + name.upper())
        if value is not None:
            raw[name] = value
    raw.update(overrides or {})
    try:
        settings: Settings = _SettingsSchema().load(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{ENV_PREFIX}{name.upper()}: {' '.join(map(str, msgs))}"
            for name, msgs in sorted(exc.normalized_messages().items())
        )
        raise ConfigError(f"Invalid configuration: {problems}") from exc
    return settings
