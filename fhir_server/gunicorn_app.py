"""Running the app under gunicorn from ``fhir-server serve --workers N``."""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any

from gunicorn.app.base import BaseApplication

if TYPE_CHECKING:
    from fhir_server.tls import TlsFiles


class _FhirGunicorn(BaseApplication):
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        # Imported per worker (no preload) so each process opens its own database pool.
        from fhir_server.app import create_app
        from fhir_server.state import EXTENSION_KEY
        from fhir_server.warmup import prepare_process

        app = create_app()
        prepare_process(app.extensions[EXTENSION_KEY].engine)
        return app


def run_gunicorn(host: str, port: int, workers: int, tls: TlsFiles | None = None) -> None:
    """Serve with ``workers`` synchronous worker processes until interrupted; over TLS with ``tls``."""
    options: dict[str, Any] = {"bind": f"{host}:{port}", "workers": workers, "worker_class": "gthread", "threads": 4}
    if tls is not None:
        options |= {"certfile": str(tls.certfile), "keyfile": str(tls.keyfile)}
        if tls.cafile is not None:
            options |= {"ca_certs": str(tls.cafile), "cert_reqs": ssl.CERT_REQUIRED}
    _FhirGunicorn(options).run()
