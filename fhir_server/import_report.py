"""What every importer reports: what it stored, what it skipped and why.

``fhir-server load``, ``ml import-physionet``, ``hl7 import`` and ``dicom import``
keep going past a row, line, entry, message or file they cannot use: each is
recorded here as a :class:`Problem` (file, where in it, reason category,
message), the valid rest is stored, and the command ends with
:meth:`ImportReport.finish`, which prints one summary line to stderr, e.g.::

    imported 4,812 resources from 40 files; skipped 3 rows: empty parameter name
    (2; first: set-a/132539.txt line 17), value not a number (1; first: ...)

followed by the first few examples of each reason with their message. The
exit status is 0 when something valid was stored (or there was nothing to
store), and 1 when something was skipped under ``--strict`` or when nothing at
all could be stored. :func:`strict_option` is the shared ``--strict`` flag.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import click

__all__ = ["EXAMPLES", "ImportReport", "Problem", "strict_option"]

#: Examples kept (and printed) per reason.
EXAMPLES = 3
_F = TypeVar("_F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class Problem:
    """One skipped row, line, entry, message or file."""

    #: The file it comes from, as named on the command line (or found in a named folder).
    file: str
    #: Where in the file: ``line 17``, ``entry 3``, ``message 2 (line 9)``; ``None`` for the whole file.
    where: str | None
    #: The category counted in the summary, e.g. ``empty parameter name``.
    reason: str
    #: The whole sentence saying what is wrong.
    message: str

    @property
    def location(self) -> str:
        """``file line N`` (or just the file)."""
        return f"{self.file} {self.where}" if self.where else self.file


@dataclass
class ImportReport:
    """Problems by reason, with the first :data:`EXAMPLES` of each, and what was stored.

    :param unit: what a skipped item is called in the summary (``row``, ``message``...), singular.
    :param stored_unit: what the stored items are (``resource``, ``instance``...), singular.
    """

    unit: str = "item"
    stored_unit: str = "resource"
    #: Items stored.
    stored: int = 0
    #: Files read.
    files: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[Problem]] = field(default_factory=dict)
    #: Values stored but withheld as impossible (:mod:`fhir_server.quality.plausibility`): not skipped,
    #: so not counted against ``--strict``, but listed so nobody mistakes them for data.
    flagged: list[Problem] = field(default_factory=list)
    flagged_count: int = 0
    #: Quantities whose unit was coded in UCUM on the way in (:mod:`fhir_server.quality.units`).
    normalised: list[Problem] = field(default_factory=list)
    normalised_count: int = 0

    def flag(self, file: object, where: str | None, message: str) -> None:
        """Record one value stored withheld."""
        self.flagged_count += 1
        if len(self.flagged) < EXAMPLES:
            self.flagged.append(Problem(str(file), where, "implausible value", message))

    def normalise(self, file: object, where: str | None, message: str) -> None:
        """Record one unit coded in UCUM."""
        self.normalised_count += 1
        if len(self.normalised) < EXAMPLES:
            self.normalised.append(Problem(str(file), where, "unit normalised", message))

    def absorb_notes(self, other: ImportReport) -> None:
        """Add ``other``'s flagged and normalised values to this report's (a worker's, for one file)."""
        self.flagged_count += other.flagged_count
        self.flagged += other.flagged[: max(EXAMPLES - len(self.flagged), 0)]
        self.normalised_count += other.normalised_count
        self.normalised += other.normalised[: max(EXAMPLES - len(self.normalised), 0)]

    def add(self, file: object, where: str | None, reason: str, message: str) -> None:
        """Record one skipped item."""
        self.add_problem(Problem(str(file), where, reason, message))

    def add_problem(self, problem: Problem) -> None:
        """Record one skipped item given as a :class:`Problem`."""
        self.counts[problem.reason] += 1
        kept = self.examples.setdefault(problem.reason, [])
        if len(kept) < EXAMPLES:
            kept.append(problem)

    @property
    def skipped(self) -> int:
        """How many items were skipped, over all reasons."""
        return sum(self.counts.values())

    def summary(self) -> str:
        """The one-line summary: stored, files, and skipped items by reason (most frequent first)."""
        head = f"imported {_count(self.stored, self.stored_unit)} from {_count(self.files, 'file')}"
        if self.flagged:
            head += (
                f"; flagged {_count(self.flagged_count, 'implausible value')} (stored withheld; first: "
                f"{self.flagged[0].location})"
            )
        if self.normalised:
            head += f"; coded {_count(self.normalised_count, 'unit')} in UCUM (first: {self.normalised[0].location})"
        if not self.counts:
            return f"{head}; skipped nothing"
        reasons = ", ".join(
            f"{reason} ({count:,}; first: {self.examples[reason][0].location})"
            for reason, count in self.counts.most_common()
        )
        return f"{head}; skipped {_count(self.skipped, self.unit)}: {reasons}"

    def lines(self) -> list[str]:
        """The summary, then each kept example with its message."""
        details = [
            f"  skipped {problem.location}: {problem.message}"
            for reason, _ in self.counts.most_common()
            for problem in self.examples[reason]
        ]
        flagged = [f"  flagged {problem.location}: {problem.message}" for problem in self.flagged]
        normalised = [f"  coded {problem.location}: {problem.message}" for problem in self.normalised]
        return [self.summary(), *details, *flagged, *normalised]

    def exit_code(self, *, strict: bool) -> int:
        """1 if anything was skipped under ``strict``, or if problems left nothing stored; else 0."""
        if self.skipped and (strict or not self.stored):
            return 1
        return 0

    def finish(self, *, strict: bool) -> None:
        """Print :meth:`lines` to stderr and exit with :meth:`exit_code` when it is not 0."""
        for line in self.lines():
            click.echo(line, err=True)
        code = self.exit_code(strict=strict)
        if code:
            raise SystemExit(code)


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def strict_option(command: _F) -> _F:
    """The ``--strict`` flag every importer takes."""
    return click.option(
        "--strict", is_flag=True, help="Exit with status 1 if anything was skipped (the valid rest is still stored)."
    )(command)
