"""Errors raised by the DICOM adapter.

One exception covers every input this adapter refuses; its :attr:`code` says which
rule the input broke so that a caller (the future C-STORE handler) can pick a DIMSE
status or a quarantine reason without parsing messages::

    ValueError
    └── InvalidDicomError        code: DicomProblem
            NOT_DICOM            no preamble/``DICM`` and not parseable
            TRUNCATED            a value or element runs past the end of the input
            MISSING_ATTRIBUTE    a required UID is absent or empty
            INVALID_UID          a UID breaks the PS3.5 section 9.1 syntax
            UNREADABLE           pydicom could not decode the data set

It subclasses :class:`ValueError` because the problem always lies in the data handed
in, never in the environment; I/O failures such as a missing path stay ``OSError``.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["DicomProblem", "InvalidDicomError"]


class DicomProblem(StrEnum):
    """The rule an input broke; the values are stable for logs and sidecar files."""

    NOT_DICOM = "not-dicom"
    TRUNCATED = "truncated"
    MISSING_ATTRIBUTE = "missing-attribute"
    INVALID_UID = "invalid-uid"
    UNREADABLE = "unreadable"


class InvalidDicomError(ValueError):
    """An input that cannot be accepted as a DICOM composite instance.

    :param reason: a whole sentence naming the element or offset at fault.
    :param code: which rule was broken.
    """

    #: The human-readable sentence, also the exception message.
    reason: str
    #: The machine-readable category of the problem.
    code: DicomProblem

    def __init__(self, reason: str, *, code: DicomProblem = DicomProblem.UNREADABLE) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
