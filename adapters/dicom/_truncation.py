"""Detect DICOM input that pydicom read only partially.

pydicom is forgiving: a value whose declared length runs past the end of the input
comes back short without an error, a file cut inside an element header silently
ends the data set, and ``stop_before_pixels`` never looks at Pixel Data at all. A
truncated Study Instance UID still looks like a valid UID, so a short read must be
caught from the byte layout: every declared length has to fit in the input.

Beyond what pydicom already read, the checks only seek and read a few element
headers, never Pixel Data values, so a 2 GB multi-frame file costs no more than a
2 kB one.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from pydicom.datadict import keyword_for_tag
from pydicom.dataelem import RawDataElement
from pydicom.uid import UID

from adapters.dicom.errors import DicomProblem, InvalidDicomError

if TYPE_CHECKING:
    from typing import BinaryIO

    from pydicom.dataset import Dataset, FileDataset

_UNDEFINED_LENGTH = 0xFFFFFFFF
_PIXEL_TAGS = {0x7FE00010: "Pixel Data", 0x7FE00008: "Float Pixel Data", 0x7FE00009: "Double Float Pixel Data"}
_ITEM_TAG = 0xFFFEE000
_SEQUENCE_DELIMITER_TAG = 0xFFFEE0DD
#: Explicit VRs with a 2-byte reserved field and a 4-byte length (PS3.5 7.1.2).
_LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"UC", b"UN", b"UR", b"UT"}
# JPIP syntaxes reference pixel data by URL, so an image without Pixel Data is legal.
_JPIP_SYNTAXES = {"1.2.840.10008.1.2.4.94", "1.2.840.10008.1.2.4.95"}
_DEFLATED_SYNTAX = "1.2.840.10008.1.2.1.99"


def check_raw_lengths(ds: Dataset) -> None:
    """Raise if any not-yet-decoded element of *ds* holds fewer bytes than it declares.

    :raises InvalidDicomError: with code ``TRUNCATED``.
    """
    for tag in list(ds.keys()):
        elem = ds.get_item(tag, keep_deferred=True)
        if isinstance(elem, RawDataElement):
            declared = elem.length
            if elem.value is not None and declared != _UNDEFINED_LENGTH and len(elem.value) < declared:
                raise _truncated(
                    f"Element {_describe(tag)} declares a {declared}-byte value at offset "
                    f"{elem.value_tell} but only {len(elem.value)} bytes remain in the input."
                )
        elif elem is not None and elem.VR == "SQ" and elem.value is not None:
            # Undefined-length sequences are parsed eagerly, so their items hold raw elements too.
            for item in elem.value:
                check_raw_lengths(item)


def check_file_complete(ds: FileDataset, fp: BinaryIO, size: int, transfer_syntax: str) -> None:
    """Raise if the file behind *ds* (read with ``stop_before_pixels``) is cut short.

    :param fp: the stream *ds* was read from, positioned where pydicom stopped.
    :param size: the total number of bytes in the input.
    :raises InvalidDicomError: with code ``TRUNCATED`` or, for an unexpected
        element where Pixel Data should start, ``UNREADABLE``.
    """
    check_raw_lengths(ds.file_meta)
    check_raw_lengths(ds)
    _check_meta_group(ds, size)
    if transfer_syntax == _DEFLATED_SYNTAX:
        # The data set was inflated from the whole remainder, and zlib already
        # refuses a cut stream; offsets past the meta group are not file offsets.
        return
    position = fp.tell()
    if position < size:
        # pydicom rewinds to the start of the Pixel Data tag when it stops before it.
        implicit, little = ds.original_encoding
        _check_elements_from(fp, position, size, implicit=bool(implicit), little=little is not False)
        return
    _check_trailing_bytes(ds, size)
    if transfer_syntax not in _JPIP_SYNTAXES and _expects_pixels(ds):
        # A file cut exactly between two elements parses cleanly; for images the
        # missing Pixel Data (Type 1 in the Image Pixel module) still gives it away.
        raise _truncated(f"The input ends at offset {size} before the Pixel Data (7FE0,0010) that an image requires.")


def _expects_pixels(ds: Dataset) -> bool:
    """Return whether the data set is an image: it has Rows and Columns or an image SOP class."""
    if 0x00280010 in ds and 0x00280011 in ds:
        return True
    try:
        sop_class = UID(str(ds.get("SOPClassUID") or ""))
    except Exception:  # noqa: BLE001 - pydicom's decoders raise assorted types
        # An undecodable SOP Class UID is reported by the header builder instead.
        return False
    return "Image Storage" in sop_class.name


def _check_meta_group(ds: FileDataset, size: int) -> None:
    """Raise if the meta group declares more bytes than the input has, or nothing follows it.

    pydicom swallows fewer than 8 bytes after the meta group as "end of file",
    leaving an empty data set where a cut one was.
    """
    elem = ds.file_meta.get_item(0x00020000, keep_deferred=True)
    if elem is None:
        return
    tell = elem.value_tell if isinstance(elem, RawDataElement) else elem.file_tell
    try:
        group_length = int(ds.file_meta.FileMetaInformationGroupLength)
    except (TypeError, ValueError):
        return
    if tell is None:
        return
    meta_end = tell + 4 + group_length
    if meta_end > size:
        raise _truncated(
            f"File Meta Information Group Length (0002,0000) declares the meta group ends at "
            f"offset {meta_end} but the input ends at offset {size}."
        )
    if len(ds) == 0 and size > meta_end:
        raise _truncated(
            f"The input has {size - meta_end} bytes after the File Meta Information but no complete data set element."
        )


def _check_trailing_bytes(ds: Dataset, size: int) -> None:
    """Raise if bytes follow the last element: the rest of a header cut short."""
    last_tell, last_end, last_tag = -1, None, 0
    # Iterating a Dataset yields decoded elements; the keys keep raw ones raw.
    for tag in ds.keys():
        elem = ds.get_item(tag, keep_deferred=True)
        if isinstance(elem, RawDataElement):
            tell = elem.value_tell
            end = None if elem.length == _UNDEFINED_LENGTH else tell + elem.length
        elif elem is not None and elem.file_tell is not None:
            # An eagerly parsed undefined-length sequence: its end is not recorded.
            tell, end = elem.file_tell, None
        else:
            continue
        if tell > last_tell:
            last_tell, last_end, last_tag = tell, end, int(tag)
    if last_end is not None and last_end < size:
        raise _truncated(
            f"The input has {size - last_end} bytes after element {_describe(last_tag)}, "
            "too few for the element header that should follow."
        )


def _check_elements_from(fp: BinaryIO, position: int, size: int, *, implicit: bool, little: bool) -> None:
    """Walk the element headers from Pixel Data to the end of the input.

    Elements after Pixel Data (trailing padding, overlays) are walked too, since a
    cut among them is still a cut; an undefined-length element other than Pixel
    Data ends the walk, as verifying it would mean parsing nested sequences.
    """
    endian = "<" if little else ">"
    first = True
    while position < size:
        fp.seek(position)
        header = fp.read(12)
        if len(header) < 8:
            raise _truncated(f"The input ends at offset {size} inside the element header at offset {position}.")
        group, element = struct.unpack(f"{endian}HH", header[:4])
        tag = group << 16 | element
        if first and tag not in _PIXEL_TAGS:
            raise InvalidDicomError(
                f"Reading stopped at offset {position} on element {_describe(tag)} before the end of the input.",
                code=DicomProblem.UNREADABLE,
            )
        first = False
        vr = header[4:6]
        # Some writers encode implicit VR despite an explicit transfer syntax;
        # pydicom detects that per data set, so the header must be read the same way.
        if implicit or not vr.isalpha():
            fmt, length_at, value_start = "L", 4, position + 8
        elif vr in _LONG_VRS:
            if len(header) < 12:
                raise _truncated(f"The input ends at offset {size} inside the header of element {_describe(tag)}.")
            fmt, length_at, value_start = "L", 8, position + 12
        else:
            fmt, length_at, value_start = "H", 6, position + 8
        (length,) = struct.unpack_from(f"{endian}{fmt}", header, length_at)
        if length == _UNDEFINED_LENGTH:
            if tag not in _PIXEL_TAGS:
                return
            position = _check_fragments(fp, value_start, size, endian)
        elif value_start + length > size:
            raise _truncated(
                f"Element {_describe(tag)} declares a {length}-byte value at offset {value_start} "
                f"but the input ends at offset {size}."
            )
        else:
            position = value_start + length


def _check_fragments(fp: BinaryIO, position: int, size: int, endian: str) -> int:
    """Walk the items of encapsulated Pixel Data; return the offset after its delimiter."""
    while True:
        fp.seek(position)
        header = fp.read(8)
        if len(header) < 8:
            raise _truncated(
                f"Encapsulated Pixel Data (7FE0,0010) ends at offset {size} without a "
                "Sequence Delimitation Item (FFFE,E0DD)."
            )
        group, element, length = struct.unpack(f"{endian}HHL", header)
        tag = group << 16 | element
        if tag == _SEQUENCE_DELIMITER_TAG:
            return position + 8
        if tag != _ITEM_TAG:
            raise InvalidDicomError(
                f"Encapsulated Pixel Data (7FE0,0010) holds element {_describe(tag)} at offset "
                f"{position} where an Item (FFFE,E000) was expected.",
                code=DicomProblem.UNREADABLE,
            )
        if position + 8 + length > size:
            raise _truncated(
                f"A Pixel Data (7FE0,0010) fragment at offset {position} declares "
                f"{length} bytes but the input ends at offset {size}."
            )
        position += 8 + length


def _describe(tag: int) -> str:
    keyword = keyword_for_tag(tag)
    code = f"({tag >> 16:04X},{tag & 0xFFFF:04X})"
    return f"{keyword} {code}" if keyword else code


def _truncated(reason: str) -> InvalidDicomError:
    return InvalidDicomError(reason, code=DicomProblem.TRUNCATED)
