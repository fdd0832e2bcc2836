"""Group commit: several messages applied in one transaction, their resources written in one batch."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from adapters.hl7v2._group import GroupCommitter, _Item
from adapters.hl7v2.header import parse_header
from models import Hl7v2Message, ResourceHistory, ResourceRow

SAMPLE = "reportstream/OBX-to-Observation-nm-value.hl7"


def _with_control_id(message: bytes, control_id: str) -> bytes:
    msh, _, rest = message.partition(b"\r")
    fields = msh.split(b"|")
    fields[9] = control_id.encode()
    return b"|".join(fields) + b"\r" + rest


def _item(message: bytes) -> _Item:
    return _Item(
        parse_header(message), message, "test-peer", lambda pk: b"conflict", hashlib.sha256(message).hexdigest()
    )


def _count(factory: sessionmaker[Session], query: object) -> int:
    with factory() as session:
        return int(session.execute(query).scalar_one())  # type: ignore[call-overload]


def test_a_batch_stores_every_message_and_shared_resources_once(
    factory: sessionmaker[Session], sample: Callable[[str], bytes]
) -> None:
    base = sample(SAMPLE)
    batch = [_item(_with_control_id(base, f"GROUP-{n}")) for n in range(3)]
    GroupCommitter(factory)._run(batch)
    applied = [item.result.result() for item in batch]
    assert len({a.pk for a in applied}) == 3
    assert all(b"MSA|AA|GROUP-" in (a.ack or b"") for a in applied)
    statuses = _count(factory, select(func.count()).where(Hl7v2Message.status == "done"))
    assert statuses == 3
    # The three messages carry the same results: each resource is stored once, at version 1.
    resources = _count(factory, select(func.count()).select_from(ResourceRow))
    assert resources > 0
    assert _count(factory, select(func.count()).select_from(ResourceHistory)) == resources
    assert _count(factory, select(func.count()).where(ResourceRow.resource_type == "Observation")) >= 1


def test_the_same_message_twice_in_a_batch_is_stored_once(
    factory: sessionmaker[Session], sample: Callable[[str], bytes]
) -> None:
    message = _with_control_id(sample(SAMPLE), "TWICE-1")
    batch = [_item(message), _item(message)]
    GroupCommitter(factory)._run(batch)
    first, second = (item.result.result() for item in batch)
    assert first.pk == second.pk and first.ack == second.ack
    assert _count(factory, select(func.count()).select_from(Hl7v2Message)) == 1


def test_a_reused_control_id_with_other_content_is_kept_for_review(
    factory: sessionmaker[Session], sample: Callable[[str], bytes]
) -> None:
    message = _with_control_id(sample(SAMPLE), "REUSED-1")
    altered = message.replace(b"\rOBX|", b"\rNTE|1||changed\rOBX|", 1)
    batch = [_item(message), _item(altered), _item(_with_control_id(message, "OTHER-1"))]
    GroupCommitter(factory)._run(batch)
    with factory() as session:
        rows = session.execute(select(Hl7v2Message.control_id, Hl7v2Message.status).order_by(Hl7v2Message.pk)).all()
    assert sorted(tuple(r) for r in rows) == [("OTHER-1", "done"), ("REUSED-1", "conflict"), ("REUSED-1", "done")]
