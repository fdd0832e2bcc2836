"""CORS for browser SMART apps and the security headers every response carries.

Browser apps on other origins call the FHIR API and the token endpoint; only the
origins in ``FHIR_SERVER_CORS_ORIGINS`` may (``*`` for any, which is safe with
bearer tokens because no cookie credentials are allowed). Preflight ``OPTIONS``
requests are answered by Flask's automatic OPTIONS handling and pass the token
check (:mod:`fhir_server.auth.bearer`); this hook only adds the headers.
"""

from __future__ import annotations

from flask import Flask, Response, request

#: Request headers a SMART app sends to the FHIR API.
ALLOWED_HEADERS = (
    "Authorization, Content-Type, Accept, Prefer, If-Match, If-None-Match, If-Modified-Since, If-None-Exist"
)
#: Response headers a browser app must be able to read.
EXPOSED_HEADERS = "Location, Content-Location, ETag, Last-Modified, WWW-Authenticate"
ALLOWED_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"


def install(app: Flask, allowed_origins: tuple[str, ...]) -> None:
    """Add CORS (for ``allowed_origins``) and security headers to every response of ``app``."""
    allow_any = "*" in allowed_origins

    @app.after_request
    def _headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "no-referrer")
        if response.mimetype != "text/html":
            # Nothing but HTML pages may load anything; JSON never runs as a document.
            headers.setdefault("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
        if request.is_secure:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        origin = request.headers.get("Origin")
        if origin and (allow_any or origin in allowed_origins):
            headers["Access-Control-Allow-Origin"] = "*" if allow_any else origin
            headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
            if request.method == "OPTIONS":
                headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
                headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
                headers["Access-Control-Max-Age"] = "600"
        if not allow_any:
            headers.add("Vary", "Origin")
        return response
