"""MLLP decoder and encoder: splits, stray bytes, oversize frames, empty frames."""

from __future__ import annotations

import random

import pytest

from adapters.hl7v2.errors import FramingError
from adapters.hl7v2.framing import (
    DecoderEvent,
    Frame,
    MllpDecoder,
    OversizeFrame,
    StrayBytes,
    encode_frame,
)

FIRST = b"MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5\rPID|1||123\r"
SECOND = b"MSH|^~\\&|A|B|C|D|20240101||ADT^A08|2|P|2.5\r"
STREAM = encode_frame(FIRST) + encode_frame(SECOND)


def frames(events: list[DecoderEvent]) -> list[bytes]:
    return [event.payload for event in events if isinstance(event, Frame)]


def stray(events: list[DecoderEvent]) -> bytes:
    return b"".join(event.data for event in events if isinstance(event, StrayBytes))


def feed_all(decoder: MllpDecoder, *chunks: bytes) -> list[DecoderEvent]:
    return [event for chunk in chunks for event in decoder.feed(chunk)]


def test_encode_frame_wraps_payload() -> None:
    assert encode_frame(b"MSH|x\r") == b"\x0bMSH|x\r\x1c\r"


@pytest.mark.parametrize("payload", [b"MSH\x0b|", b"MSH\x1c|"])
def test_encode_frame_refuses_block_characters(payload: bytes) -> None:
    with pytest.raises(FramingError, match="offset 3"):
        encode_frame(payload)


def test_two_frames_in_one_read() -> None:
    events = MllpDecoder().feed(STREAM)
    assert events == [Frame(FIRST), Frame(SECOND)]


@pytest.mark.parametrize("cut", range(len(STREAM) + 1))
def test_two_frames_split_at_every_byte(cut: int) -> None:
    decoder = MllpDecoder()
    events = feed_all(decoder, STREAM[:cut], STREAM[cut:])
    assert events == [Frame(FIRST), Frame(SECOND)]
    assert not decoder.in_frame


def test_byte_by_byte() -> None:
    decoder = MllpDecoder()
    events = feed_all(decoder, *(STREAM[i : i + 1] for i in range(len(STREAM))))
    assert events == [Frame(FIRST), Frame(SECOND)]


def test_partial_frame_is_buffered_until_end_block() -> None:
    decoder = MllpDecoder()
    assert decoder.feed(STREAM[:10]) == []
    assert decoder.in_frame and decoder.buffered == 9
    assert decoder.feed(STREAM[10 : len(FIRST) + 2]) == []
    assert decoder.buffered == len(FIRST) + 1  # the 0x1C waits for its 0x0D
    assert decoder.feed(STREAM[len(FIRST) + 2 : len(FIRST) + 3]) == [Frame(FIRST)]
    assert not decoder.in_frame and decoder.buffered == 0


def test_stray_bytes_before_start_block_are_reported() -> None:
    events = MllpDecoder().feed(b"garbage\r\n" + STREAM)
    assert events == [StrayBytes(b"garbage\r\n"), Frame(FIRST), Frame(SECOND)]


def test_stray_bytes_between_and_after_frames() -> None:
    data = encode_frame(FIRST) + b"\n" + encode_frame(SECOND) + b"tail"
    events = MllpDecoder().feed(data)
    assert frames(events) == [FIRST, SECOND]
    assert events[1] == StrayBytes(b"\n")
    assert events[-1] == StrayBytes(b"tail")


@pytest.mark.parametrize("cut", range(1, 20))
def test_stray_bytes_split_across_reads_add_up(cut: int) -> None:
    data = b"0123456789" + STREAM
    events = feed_all(MllpDecoder(), data[:cut], data[cut:])
    assert stray(events) == b"0123456789"
    assert frames(events) == [FIRST, SECOND]


def test_abandoned_frame_is_reported_and_next_frame_decoded() -> None:
    data = b"\x0bMSH|half a mess" + STREAM
    events = MllpDecoder().feed(data)
    assert events == [StrayBytes(b"\x0bMSH|half a mess"), Frame(FIRST), Frame(SECOND)]


def test_empty_frame() -> None:
    events = MllpDecoder().feed(b"\x0b\x1c\r" + encode_frame(FIRST))
    assert events == [Frame(b""), Frame(FIRST)]


def test_lone_file_separator_is_payload() -> None:
    events = MllpDecoder().feed(b"\x0bab\x1ccd\x1c\r")
    assert events == [Frame(b"ab\x1ccd")]


def test_lone_file_separator_at_end_of_read_is_payload() -> None:
    decoder = MllpDecoder()
    assert feed_all(decoder, b"\x0bab\x1c", b"cd\x1c", b"\r") == [Frame(b"ab\x1ccd")]


def test_payload_at_the_limit_is_accepted() -> None:
    decoder = MllpDecoder(max_size=len(FIRST))
    assert decoder.feed(encode_frame(FIRST)) == [Frame(FIRST)]


def test_oversize_frame_is_reported_once_and_decoder_resyncs() -> None:
    decoder = MllpDecoder(max_size=len(FIRST) - 1)
    events = decoder.feed(encode_frame(FIRST) + encode_frame(SECOND[:40]))
    assert events == [
        OversizeFrame(size=len(FIRST), limit=len(FIRST) - 1, head=FIRST),
        Frame(SECOND[:40]),
    ]


def test_oversize_frame_split_across_reads_then_next_frame() -> None:
    big = b"MSH|^~\\&|A\r" + b"x" * 100
    decoder = MllpDecoder(max_size=50)
    events = feed_all(decoder, b"\x0b" + big[:30], big[30:80], big[80:] + b"\x1c\r", encode_frame(SECOND[:40]))
    assert len(events) == 2
    oversize = events[0]
    assert isinstance(oversize, OversizeFrame)
    assert oversize.limit == 50 and oversize.size == 80
    assert oversize.head == big[:80]
    assert events[1] == Frame(SECOND[:40])


def test_oversize_head_is_bounded() -> None:
    decoder = MllpDecoder(max_size=5000)
    (event,) = decoder.feed(b"\x0b" + b"y" * 6000)
    assert isinstance(event, OversizeFrame)
    assert event.head == b"y" * 4096 and event.size == 6000


def test_reset_forgets_partial_frame() -> None:
    decoder = MllpDecoder()
    decoder.feed(b"\x0bpartial")
    decoder.reset()
    assert not decoder.in_frame
    assert decoder.feed(b"more\x1c\r") == [StrayBytes(b"more\x1c\r")]


def test_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="`0`"):
        MllpDecoder(max_size=0)


def test_any_split_of_a_messy_stream_gives_the_same_frames() -> None:
    """Property check: how reads are cut never changes frames or discarded bytes."""
    stream = (
        b"\r\n"
        + encode_frame(FIRST)
        + b"\x0babandoned"
        + b"\x0b\x1c\r"
        + b"\x0bwith\x1clone FS\x1c\r"
        + b"junk"
        + encode_frame(SECOND)
    )
    whole = MllpDecoder().feed(stream)
    expected_frames, expected_stray = frames(whole), stray(whole)
    assert expected_frames == [FIRST, b"", b"with\x1clone FS", SECOND]
    rng = random.Random(2575)
    for _ in range(300):
        cuts = sorted(rng.sample(range(1, len(stream)), rng.randint(1, 6)))
        chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
        events = feed_all(MllpDecoder(), *chunks)
        assert frames(events) == expected_frames
        assert stray(events) == expected_stray
