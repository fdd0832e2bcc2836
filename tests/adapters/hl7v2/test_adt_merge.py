"""Merges, moves and links over MLLP: stored records change as the IG says; unknown targets only warn."""

from __future__ import annotations

import orjson
import pytest
from sqlalchemy.orm import Session, sessionmaker

from fhir_server.db import unit_of_work
from fhir_server.repository import RequestContext, SqlRepository
from fhir_server.search.query import parse_query

from .adt_messages import VERSIONS, encounter_id, message, mrg, patient_id, pid, pv1
from .e2e import msa, read, running

ORU = (
    "MSH|^~\\&|LAB|GENHOSP|FHIR|FHIR|20240302120000+0100||ORU^R01^ORU_R01|LAB1|P|2.5.1\r"
    "PID|1||0815^^^GENHOSP&1.2.3.4&ISO^MR||Muster^Erika\r"
    "OBR|1||FL1^LAB|2345-7^Glucose^LN|||20240302090000\r"
    "OBX|1|NM|2345-7^Glucose^LN||182|mg/dL^mg/dL^UCUM|||||F\r"
)


def observations_of(factory: sessionmaker[Session], patient: str) -> list[str]:
    with unit_of_work(factory, write=False) as session:
        repo = SqlRepository(session, RequestContext(actor="test"))
        page = repo.search(["Observation"], parse_query([("patient", f"Patient/{patient}")]), base_url="", page_size=10)
    return [orjson.loads(m.content or b"{}")["code"]["coding"][0]["code"] for m in page.matches]


@pytest.mark.parametrize("event", ["A18", "A30", "A34", "A36", "A39", "A40", "A47"])
@pytest.mark.parametrize("version", VERSIONS)
def test_patient_merge_keeps_the_merged_patients_results_findable(
    factory: sessionmaker[Session], event: str, version: str
) -> None:
    with running(factory) as client:
        client.call(message("A28", pid(mrn="0815"), control="1").encode())
        client.call(ORU.encode())
        ack = client.call(message(event, pid() + mrg(mrn="0815"), version, control="2", structure="ADT_A39").encode())
    assert msa(ack)[1] == "AA" and b"ERR" not in ack
    surviving, merged = read(factory, f"Patient/{patient_id()}"), read(factory, f"Patient/{patient_id('0815')}")
    assert surviving["link"] == [{"other": {"reference": f"Patient/{patient_id('0815')}"}, "type": "replaces"}]
    assert merged["link"] == [{"other": {"reference": f"Patient/{patient_id()}"}, "type": "replaced-by"}]
    assert merged["active"] is False
    assert {"use": "old", "value": "0815"}.items() <= surviving["identifier"][1].items()
    assert observations_of(factory, patient_id()) == ["2345-7"]
    assert observations_of(factory, patient_id("0815")) == []


def test_a08_after_a_merge_keeps_the_link(factory: sessionmaker[Session]) -> None:
    with running(factory) as client:
        client.call(message("A28", pid(mrn="0815"), control="1").encode())
        client.call(message("A40", pid() + mrg(mrn="0815"), control="2", structure="ADT_A39").encode())
        client.call(message("A08", pid(name="Muster^Erika Maria") + pv1(), control="3").encode())
    surviving = read(factory, f"Patient/{patient_id()}")
    assert surviving["link"][0]["type"] == "replaces" and len(surviving["identifier"]) == 2


@pytest.mark.parametrize("version", VERSIONS)
def test_merge_of_an_unknown_patient_stores_the_survivor_only(factory: sessionmaker[Session], version: str) -> None:
    with running(factory) as client:
        ack = client.call(message("A40", pid() + mrg(mrn="0815"), version, structure="ADT_A39").encode())
    assert msa(ack)[1] == "AA" and b"204" in ack and b"does not hold" in ack
    assert "link" not in read(factory, f"Patient/{patient_id()}")
    with pytest.raises(Exception, match="was not found"):
        read(factory, f"Patient/{patient_id('0815')}")


def test_a42_merges_visits_and_repoints_their_resources(factory: sessionmaker[Session]) -> None:
    diagnosis = "DG1|1||I10^Hypertension^I10||20240301|A\r"
    with running(factory) as client:
        client.call(message("A01", pid() + pv1(visit="V1") + diagnosis, control="1").encode())
        client.call(message("A01", pid() + pv1(visit="V2"), control="2").encode())
        ack = client.call(message("A42", pid() + mrg(visit="V1") + pv1(visit="V2"), control="3").encode())
    assert msa(ack)[1] == "AA" and b"ERR" not in ack
    merged, surviving = (
        read(factory, f"Encounter/{encounter_id('V1')}"),
        read(factory, f"Encounter/{encounter_id('V2')}"),
    )
    assert merged["status"] == "entered-in-error" and merged["partOf"]["reference"] == f"Encounter/{surviving['id']}"
    assert [i["value"] for i in surviving["identifier"]] == ["V2", "V1"]


def test_a45_moves_a_visit_to_another_patient(factory: sessionmaker[Session]) -> None:
    with running(factory) as client:
        client.call(message("A01", pid(mrn="0815") + pv1(), control="1").encode())
        ack = client.call(message("A45", pid() + mrg(mrn="0815", visit="V99") + pv1(), control="2").encode())
    assert msa(ack)[1] == "AA" and b"ERR" not in ack
    assert read(factory, f"Encounter/{encounter_id()}")["subject"]["reference"] == f"Patient/{patient_id()}"


def test_a24_links_and_a37_unlinks(factory: sessionmaker[Session]) -> None:
    both = pid() + pid(mrn="0815", name="Muster^E")
    with running(factory) as client:
        client.call(message("A24", both, control="1", structure="ADT_A24").encode())
        assert read(factory, f"Patient/{patient_id()}")["link"][0]["type"] == "seealso"
        assert read(factory, f"Patient/{patient_id('0815')}")["link"][0]["type"] == "seealso"
        client.call(message("A37", both, control="2", structure="ADT_A37").encode())
    assert "link" not in read(factory, f"Patient/{patient_id()}")


@pytest.mark.parametrize("event", ["A35", "A41", "A44", "A49"])
def test_account_merges_and_moves_warn(factory: sessionmaker[Session], event: str) -> None:
    with running(factory) as client:
        ack = client.call(message(event, pid() + "MRG|||ACC1\r", structure="ADT_A39").encode())
    assert msa(ack)[1] == "AA" and b"keeps no Account" in ack
    assert read(factory, f"Patient/{patient_id()}")["id"] == patient_id()
