"""What each ADT trigger event does, as data: the one table :mod:`.adt` dispatches on.

``visit``: ``write`` maps PV1 to an Encounter (created or updated, keeping its
history); ``update`` changes a stored Encounter only (cancels, leave of
absence; an unknown visit is a warning); ``none`` maps the person only.
``merge`` names the stored-record operation of :mod:`.merge`. The status each
event gives the Encounter is in :data:`.terminology.ENCOUNTER_STATUS`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ADT_EVENTS", "AdtEvent"]


@dataclass(frozen=True, slots=True)
class AdtEvent:
    """How one trigger event is mapped."""

    #: What becomes of PV1: ``write``, ``update`` or ``none``.
    visit: str
    #: ``None``, or the operation on stored records: ``patient`` (merge), ``visit`` (merge),
    #: ``move-visit``, ``account``, ``link``, ``unlink``, ``retire``.
    merge: str | None = None
    #: What an ``update`` does, for the warning when its visit is unknown.
    what: str = ""
    #: ``update`` only: drop period.end (cancel discharge).
    clear_end: bool = False
    #: ``update`` only: PV1-3 becomes the current location (cancel transfer).
    relocate: bool = False


_WRITE, _PERSON = AdtEvent("write"), AdtEvent("none")


def _update(what: str, *, clear_end: bool = False, relocate: bool = False) -> AdtEvent:
    return AdtEvent("update", what=what, clear_end=clear_end, relocate=relocate)


#: Every ADT trigger event mapped (A19 and A20 carry no patient; A56-A59 are not defined for ADT).
ADT_EVENTS: dict[str, AdtEvent] = {
    **{e: _WRITE for e in ("A01", "A02", "A03", "A04", "A05", "A08", "A09", "A10", "A14", "A15", "A16", "A17")},
    **{e: _WRITE for e in ("A51", "A54", "A55", "A61", "A62")},
    "A06": AdtEvent("write", "visit"),
    "A07": AdtEvent("write", "visit"),
    "A11": _update("cancel admit"),
    "A12": _update("cancel transfer", relocate=True),
    "A13": _update("cancel discharge", clear_end=True),
    "A21": _update("leave of absence"),
    "A22": _update("return from leave of absence"),
    "A23": _update("delete visit"),
    "A25": _update("cancel pending discharge"),
    "A26": _update("cancel pending transfer"),
    "A27": _update("cancel pending admit"),
    "A32": _update("cancel patient arriving"),
    "A33": _update("cancel patient departing"),
    "A38": _update("cancel pre-admit"),
    "A52": _update("cancel leave of absence"),
    "A53": _update("cancel return from leave of absence"),
    **{e: _PERSON for e in ("A28", "A31", "A48", "A60")},
    **{e: AdtEvent("none", "patient") for e in ("A18", "A30", "A34", "A36", "A39", "A40", "A43", "A46", "A47")},
    **{e: AdtEvent("none", "account") for e in ("A35", "A41", "A44", "A49")},
    "A42": AdtEvent("none", "visit"),
    "A50": AdtEvent("none", "visit"),
    "A45": AdtEvent("none", "move-visit"),
    "A24": AdtEvent("none", "link"),
    "A37": AdtEvent("none", "unlink"),
    "A29": AdtEvent("none", "retire"),
}
