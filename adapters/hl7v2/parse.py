"""Split a decoded HL7 v2 message into segments, fields, repetitions and components.

The mapping needs random access by position (``PID-3``, ``OBX-5.2``), not a
validated tree: a structural parser such as hl7apy rejects exactly the sloppy
messages real senders produce, and it is slow. Positions are 1-based, as in the
standard, and every accessor returns ``""`` for an absent value, so mapping
code never has to guard against short segments.

Escape sequences (HL7 v2.5 section 2.7) are resolved when a component is read,
after splitting, so an escaped delimiter never splits a value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from adapters.hl7v2.errors import Hl7v2Error

__all__ = ["ParseError", "ParsedMessage", "Segment", "parse_message"]

_SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{2}")


class ParseError(Hl7v2Error):
    """The message text cannot be split into HL7 v2 segments."""


@dataclass(frozen=True, slots=True)
class Delimiters:
    """The separators declared in MSH-1 and MSH-2."""

    field: str
    component: str
    repetition: str
    escape: str
    subcomponent: str


@dataclass(frozen=True, slots=True)
class Segment:
    """One segment: its id, its 1-based occurrence in the message and its raw fields."""

    name: str
    #: Which occurrence of this segment id in the message, from 1 (for ERR-2).
    sequence: int
    #: ``fields[n]`` is field n (``fields[0]`` is the segment id).
    fields: tuple[str, ...]
    delimiters: Delimiters

    def raw(self, field: int) -> str:
        """Field ``field`` as written, with delimiters and escapes."""
        return self.fields[field] if 0 <= field < len(self.fields) else ""

    def repetitions(self, field: int) -> list[str]:
        """The non-empty repetitions of a field, each still raw."""
        value = self.raw(field)
        if not value or (self.name == "MSH" and field == 2):
            return [value] if value else []
        return [rep for rep in value.split(self.delimiters.repetition) if rep]

    def get(self, field: int, component: int = 1, subcomponent: int = 1, repetition: int = 1) -> str:
        """One unescaped value, e.g. ``get(3, 4, 2)`` is PID-3.4.2 of the first repetition."""
        reps = self.raw(field).split(self.delimiters.repetition)
        if self.name == "MSH" and field in (1, 2):
            return self.raw(field) if component == 1 and repetition == 1 else ""
        if repetition > len(reps):
            return ""
        return split_value(reps[repetition - 1], self.delimiters, component, subcomponent)

    def text(self, field: int) -> str:
        """A whole field as text: repetitions joined by newlines, components by spaces."""
        parts = []
        for rep in self.repetitions(field):
            components = [unescape(c, self.delimiters) for c in rep.split(self.delimiters.component)]
            parts.append(" ".join(c for c in components if c))
        return "\n".join(parts)


def split_value(raw: str, delimiters: Delimiters, component: int = 1, subcomponent: int = 1) -> str:
    """Pick component and subcomponent (1-based) out of one raw repetition and unescape it."""
    components = raw.split(delimiters.component)
    if component > len(components):
        return ""
    subcomponents = components[component - 1].split(delimiters.subcomponent)
    if subcomponent > len(subcomponents):
        return ""
    return unescape(subcomponents[subcomponent - 1], delimiters).strip()


_ESCAPES = {"F": "field", "S": "component", "R": "repetition", "E": "escape", "T": "subcomponent"}


def unescape(value: str, delimiters: Delimiters) -> str:
    """Resolve HL7 escape sequences (``\\F\\``, ``\\.br\\``, ``\\X0D\\``...) in one value."""
    esc = delimiters.escape
    if not esc or esc not in value:
        return value
    out: list[str] = []
    index = 0
    while index < len(value):
        char = value[index]
        end = value.find(esc, index + 1) if char == esc else -1
        if end == -1:
            out.append(char)
            index += 1
            continue
        code = value[index + 1 : end]
        if code in _ESCAPES:
            out.append(getattr(delimiters, _ESCAPES[code]))
        elif code == ".br":
            out.append("\n")
        elif code.startswith("X") and len(code) % 2 == 1:
            try:
                out.append(bytes.fromhex(code[1:]).decode("latin-1"))
            except ValueError:
                out.append(value[index : end + 1])
        # Formatting commands (.sp, .in, \H\, \N\...) carry no data and are dropped.
        elif not (code.startswith(".") or code in ("H", "N")):
            out.append(value[index : end + 1])
        index = end + 1
    return "".join(out)


@dataclass(frozen=True, slots=True)
class ParsedMessage:
    """A message as a list of segments."""

    segments: tuple[Segment, ...]
    delimiters: Delimiters

    @property
    def msh(self) -> Segment:
        """The MSH segment."""
        return self.segments[0]

    def first(self, name: str) -> Segment | None:
        """The first segment with id ``name``, or ``None``."""
        return next((s for s in self.segments if s.name == name), None)

    def all(self, name: str) -> list[Segment]:
        """Every segment with id ``name``, in order."""
        return [s for s in self.segments if s.name == name]


def parse_message(text: str) -> ParsedMessage:
    """Split a decoded message into segments.

    :raises ParseError: no MSH first, bad delimiters, or a line that is not a segment.
    """
    lines = [line for line in text.lstrip("\ufeff").replace("\r\n", "\r").replace("\n", "\r").split("\r")]
    lines = [line for line in lines if line.strip()]
    if not lines or not lines[0].startswith("MSH") or len(lines[0]) < 8:
        raise ParseError("The message does not start with an MSH segment.")
    msh = lines[0]
    separator, encoding = msh[3], msh[4:8]
    if len(set(separator + encoding)) != 5 or any(c.isalnum() for c in separator + encoding):
        raise ParseError(f"MSH-1 `{separator}` and MSH-2 `{msh[4:8]}` are not five distinct delimiters.")
    delimiters = Delimiters(separator, encoding[0], encoding[1], encoding[2], encoding[3])
    counts: dict[str, int] = {}
    segments = []
    for number, line in enumerate(lines, start=1):
        name = line[:3]
        if not _SEGMENT_ID.fullmatch(name) or (len(line) > 3 and line[3] != separator):
            raise ParseError(f"Line {number} `{line[:20]}` is not an HL7 v2 segment (segment id and `{separator}`).")
        counts[name] = counts.get(name, 0) + 1
        fields = line.split(separator)
        if name == "MSH":
            # MSH-1 is the separator itself, so MSH fields are shifted by one.
            fields = ["MSH", separator, *fields[1:]]
        segments.append(Segment(name, counts[name], tuple(fields), delimiters))
    return ParsedMessage(tuple(segments), delimiters)
