"""BER-TLV as PIV uses it (ISO/IEC 7816-4 and SP 800-73-4 part 2): tags of one or two
bytes, definite lengths up to 0xFFFF. Not PIV itself: every card object and command
body is built from it, so it stands alone, testable on its own bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field


class TlvError(ValueError):
    pass


def encode_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    if n <= 0xFF:
        return bytes([0x81, n])
    if n <= 0xFFFF:
        return b"\x82" + n.to_bytes(2, "big")
    raise TlvError("length too large")


def tag_bytes(tag: int) -> bytes:
    return tag.to_bytes(max(1, (tag.bit_length() + 7) // 8), "big")


def tlv(tag: int, value: bytes = b"") -> bytes:
    return tag_bytes(tag) + encode_length(len(value)) + value


@dataclass(frozen=True)
class Tlv:
    tag: int
    value: bytes
    length: int = field(default=0, compare=False)  # bytes taken in the input


def parse_tlv(data: bytes, offset: int = 0) -> Tlv:
    """Decode one BER-TLV at `offset`; TlvError on anything malformed or truncated."""
    pos = offset
    if pos >= len(data):
        raise TlvError("no tag")
    tag = data[pos]
    pos += 1
    if tag & 0x1F == 0x1F:
        for _ in range(3):
            if pos >= len(data):
                raise TlvError("truncated tag")
            tag = (tag << 8) | data[pos]
            pos += 1
            if not data[pos - 1] & 0x80:
                break
        else:
            raise TlvError("tag too long")
    if pos >= len(data):
        raise TlvError("no length")
    first = data[pos]
    pos += 1
    if first < 0x80:
        length = first
    elif first in (0x81, 0x82, 0x83):
        n = first & 0x7F
        if pos + n > len(data):
            raise TlvError("truncated length")
        length = int.from_bytes(data[pos : pos + n], "big")
        pos += n
    else:
        raise TlvError("unsupported length form")
    if pos + length > len(data):
        raise TlvError("value runs past the data")
    return Tlv(tag, bytes(data[pos : pos + length]), pos + length - offset)


def iter_tlvs(data: bytes) -> Iterator[Tlv]:
    pos = 0
    while pos < len(data):
        item = parse_tlv(data, pos)
        pos += item.length
        yield item


def tlv_dict(data: bytes) -> dict[int, bytes]:
    """Tags to values; the first of a repeated tag wins."""
    out: dict[int, bytes] = {}
    for item in iter_tlvs(data):
        out.setdefault(item.tag, item.value)
    return out


def unwrap(data: bytes, tag: int) -> bytes:
    """The value of a single outer TLV that must have `tag`."""
    item = parse_tlv(data)
    if item.tag != tag:
        raise TlvError(f"expected tag {tag:X}, got {item.tag:X}")
    return item.value
