"""The Flask application factory."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask

from adapters.dicom.wado import blueprint as dicomweb_blueprint
from fhir_server.audit.drain import start_background_drain
from fhir_server.auth import cors
from fhir_server.auth.endpoints import blueprint as auth_blueprint
from fhir_server.config import load_settings
from fhir_server.rest import blueprint as rest_blueprint
from fhir_server.state import EXTENSION_KEY, ServerState
from ml.auto_risk import start_from_environment


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: settings (environment, then ``config`` overrides), database, blueprints.

    :param config: setting overrides by name, e.g. ``{"database_url": "sqlite:///x.db"}``.
    :raises fhir_server.config.ConfigError: when a setting is invalid.
    """
    settings = load_settings(config)
    app = Flask(__name__)
    # Werkzeug enforces the body limit while streaming; the REST layer turns it into a 413 OperationOutcome.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.extensions[EXTENSION_KEY] = ServerState.from_settings(settings)
    # FHIR_SERVER_AUTO_RISK=1: re-score patients in the background after vital-sign writes.
    start_from_environment(app.extensions[EXTENSION_KEY].sessions)
    app.register_blueprint(rest_blueprint, url_prefix="/fhir")
    # The SMART authorization server (token, JWKS, introspection, revocation).
    app.register_blueprint(auth_blueprint)
    cors.install(app, settings.cors_origins)
    state = app.extensions[EXTENSION_KEY]
    if state.auth is not None and settings.audit_drain_interval > 0:
        # Recorded accesses become AuditEvent resources in the background, off the request path.
        app.extensions["audit_drain_stop"] = start_background_drain(
            state.sessions, interval=settings.audit_drain_interval
        )
    if state.auth is not None and settings.revocation_listen:
        # Revocations reach this process by notification, so a request need not query for them.
        state.auth.tokens.revocations.start()
    if settings.auth == "off":
        logging.getLogger(__name__).warning(
            "FHIR_SERVER_AUTH=off: this server answers every request without a token. Use it only on a trusted machine."
        )
    # DICOMweb retrieval of stored instances, so ImagingStudy endpoints resolve.
    app.register_blueprint(dicomweb_blueprint)
    logging.getLogger(__name__).debug("FHIR server app created for %s", settings.database_url)
    return app
