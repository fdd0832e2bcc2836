"""The HTML pages of the authorization endpoint: error, login, patient picker, approval.

Plain forms that work without JavaScript and load nothing from elsewhere. Rendered
by Flask's Jinja with autoescaping, so every client id, scope, name and hidden
value is escaped.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import Response, render_template_string
from markupsafe import Markup

_LAYOUT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>body{font-family:sans-serif;max-width:32em;margin:2em auto}label{display:block;margin:.5em 0}</style>
</head><body><h1>{{ title }}</h1>
{% if error %}<p role="alert"><strong>{{ error }}</strong></p>{% endif %}
{{ body }}
</body></html>"""

_HIDDEN = """{% for name, value in hidden.items() %}<input type="hidden" name="{{ name }}" value="{{ value }}">
{% endfor %}"""

_LOGIN = (
    """<p>Sign in to let <strong>{{ client_id }}</strong> use your data.</p>
<form method="post" action="{{ action }}">"""
    + _HIDDEN
    + """<label>User name <input name="username" autocomplete="username" required></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button></form>"""
)

_PICKER = (
    """<p><strong>{{ client_id }}</strong> asks to work with one patient's record. Choose the patient.</p>
<form method="post" action="{{ action }}">"""
    + _HIDDEN
    + """<label>Patient <select name="patient" required>
{% for id, name in patients %}<option value="{{ id }}">{{ name }} ({{ id }})</option>
{% endfor %}</select></label>
<button type="submit">Continue</button></form>"""
)

_APPROVAL = (
    """<p>Signed in as <strong>{{ username }}</strong>.
<strong>{{ client_id }}</strong> asks for:</p>
<ul>{% for scope in scopes %}<li><code>{{ scope }}</code></li>{% endfor %}</ul>
{% if patient %}<p>Patient: <strong>{{ patient }}</strong></p>{% endif %}
<form method="post" action="{{ action }}">"""
    + _HIDDEN
    + """<button type="submit" name="decision" value="approve">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button></form>"""
)


def _page(title: str, template: str, status: int, error: str | None = None, **context: object) -> Response:
    body = render_template_string(template, **context)
    html = render_template_string(_LAYOUT, title=title, error=error, body=body_markup(body))
    response = Response(html, status=status, mimetype="text/html")
    # The pages hold a CSRF value and sit inside an OAuth flow: never cached, never framed.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"
    return response


def body_markup(html: str) -> Markup:
    """Already-rendered (and escaped) HTML, to be placed in the layout as is."""
    return Markup(html)  # produced by an autoescaping template above


def error_page(message: str, status: int = 400) -> Response:
    """An error that must not be sent to the redirect URI (unknown client, unregistered redirect URI)."""
    return _page("Authorization failed", "<p>The app cannot be authorized.</p>", status, error=message)


def login_page(action: str, client_id: str, hidden: Mapping[str, str], error: str | None = None) -> Response:
    return _page(
        "Sign in", _LOGIN, 401 if error else 200, error=error, action=action, client_id=client_id, hidden=hidden
    )


def patient_picker(
    action: str, client_id: str, hidden: Mapping[str, str], patients: list[tuple[str, str]], error: str | None = None
) -> Response:
    return _page(
        "Choose a patient",
        _PICKER,
        400 if error else 200,
        error=error,
        action=action,
        client_id=client_id,
        hidden=hidden,
        patients=patients,
    )


def approval_page(
    action: str, client_id: str, username: str, scopes: list[str], patient: str | None, hidden: Mapping[str, str]
) -> Response:
    return _page(
        "Allow access?",
        _APPROVAL,
        200,
        action=action,
        client_id=client_id,
        username=username,
        scopes=scopes,
        patient=patient,
        hidden=hidden,
    )
