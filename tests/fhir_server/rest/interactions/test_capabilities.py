"""capabilities: http://hl7.org/fhir/R4/http.html#capabilities"""

from __future__ import annotations

from flask.testing import FlaskClient

from conformance.resource_types import R4_RESOURCE_TYPES


def test_metadata_lists_every_r4_type_with_routed_interactions(client: FlaskClient) -> None:
    response = client.get("/fhir/metadata")
    assert response.status_code == 200
    statement = response.get_json()
    assert statement["resourceType"] == "CapabilityStatement"
    assert statement["fhirVersion"] == "4.0.1"
    rest = statement["rest"][0]
    types = {entry["type"] for entry in rest["resource"]}
    assert types == set(R4_RESOURCE_TYPES) and len(types) == 146
    assert "MedicinalProduct" in types and "SubscriptionTopic" not in types
    patient = next(entry for entry in rest["resource"] if entry["type"] == "Patient")
    codes = {i["code"] for i in patient["interaction"]}
    assert codes == {
        "read",
        "vread",
        "update",
        "patch",
        "delete",
        "history-instance",
        "history-type",
        "create",
        "search-type",
    }
    assert (patient["conditionalCreate"], patient["conditionalUpdate"], patient["conditionalDelete"]) == (
        True,
        True,
        "single",
    )
    params = {p["name"]: p for p in patient["searchParam"]}
    assert params["family"] == {
        "name": "family",
        "definition": "http://hl7.org/fhir/SearchParameter/individual-family",
        "type": "string",
    }
    assert {"_id", "_lastUpdated", "birthdate", "identifier", "general-practitioner"} <= set(params)
    assert "Patient:general-practitioner" in patient["searchInclude"]
    assert patient["operation"][0] == {
        "name": "validate",
        "definition": "http://hl7.org/fhir/OperationDefinition/Resource-validate",
    }
    assert {
        "name": "everything",
        "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
    } in patient["operation"]
    observation = next(entry for entry in rest["resource"] if entry["type"] == "Observation")
    assert {"name": "lastn", "definition": "http://hl7.org/fhir/OperationDefinition/Observation-lastn"} in observation[
        "operation"
    ]
    assert {i["code"] for i in rest["interaction"]} == {"history-system", "search-system", "transaction", "batch"}
