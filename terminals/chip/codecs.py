"""Codecs of the card's encodings (AN / CN / B), TLV records, fixed record maps. Errors name the item."""

from __future__ import annotations

import datetime

from .layout import Encoding, Item


class ItemError(ValueError):
    """A value that does not fit its item: the message names the item and what is wrong."""

    def __init__(self, item: Item | str, problem: str):
        self.item = item.name if isinstance(item, Item) else item
        self.label = item.label if isinstance(item, Item) else item
        self.problem = problem
        super().__init__(f"{self.label} ({self.item}): {problem}")


def an_encode(value: str, length: int, item: Item | str = "AN") -> bytes:
    if not isinstance(value, str):
        raise ItemError(item, f"expected text, got {type(value).__name__}")
    if "\x00" in value:
        raise ItemError(item, "text may not contain NUL characters")
    try:
        raw = value.encode("gbk")
    except UnicodeEncodeError as exc:
        raise ItemError(item, f"character {value[exc.start]!r} cannot be written in GBK") from None
    if len(raw) > length:
        raise ItemError(item, f"{len(raw)} bytes in GBK, at most {length} fit")
    return raw.ljust(length, b"\x00")


def an_decode(raw: bytes, item: Item | str = "AN") -> str:
    try:
        return raw.rstrip(b"\x00").decode("gbk")
    except UnicodeDecodeError:
        raise ItemError(item, "bytes on the card are not GBK text") from None


def cn_encode(value: str | int | datetime.date, length: int, item: Item | str = "CN") -> bytes:
    if isinstance(value, datetime.date):
        value = value.strftime("%Y%m%d")
    elif isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.isascii() or not value.isdigit() and value != "":
        raise ItemError(item, f"{value!r} is not a string of digits")
    if len(value) > 2 * length:
        raise ItemError(item, f"{len(value)} digits, at most {2 * length} fit")
    return bytes.fromhex(value.ljust(2 * length, "F"))


def cn_decode(raw: bytes, item: Item | str = "CN") -> str:
    digits = raw.hex().upper()
    head = digits.rstrip("F")
    if not head.isdigit() and head != "":
        raise ItemError(item, f"{digits} is not BCD")
    return head


def b_encode(value: bytes | int, length: int, item: Item | str = "B") -> bytes:
    if isinstance(value, int) and not isinstance(value, bool):
        if length != 1 or not 0 <= value <= 255:
            raise ItemError(item, f"{value} is not a byte (0-255)")
        return bytes([value])
    if not isinstance(value, bytes | bytearray):
        raise ItemError(item, f"expected bytes, got {type(value).__name__}")
    if len(value) > length:
        raise ItemError(item, f"{len(value)} bytes, at most {length} fit")
    return bytes(value).ljust(length, b"\x00")


def b_decode(raw: bytes, item: Item | str = "B") -> bytes | int:
    return raw[0] if len(raw) == 1 else bytes(raw)


def encode_item(item: Item, value) -> bytes:
    if item.encoding == Encoding.AN:
        return an_encode(value, item.length, item)
    if item.encoding == Encoding.CN:
        return cn_encode(value, item.length, item)
    return b_encode(value, item.length, item)


def decode_item(item: Item, raw: bytes):
    if len(raw) != item.length:
        raise ItemError(item, f"{len(raw)} bytes read, the item has {item.length}")
    if item.encoding == Encoding.AN:
        return an_decode(raw, item)
    if item.encoding == Encoding.CN:
        return cn_decode(raw, item)
    return b_decode(raw, item)


def tlv_encode(item: Item, value) -> bytes:
    raw = encode_item(item, value)
    return bytes([item.tag, len(raw)]) + raw


def tlv_decode(item: Item, raw: bytes):
    """A TLV record (tag, 1-byte length, value). An unwritten record (all 00 or FF) reads as None."""
    if not raw or set(raw) <= {0x00} or set(raw) <= {0xFF}:
        return None
    if len(raw) < 2 or raw[0] != item.tag:
        raise ItemError(item, f"record starts with tag {raw[:1].hex() or 'nothing'}, expected {item.tag:02X}")
    length = raw[1]
    if length != item.length or len(raw) < 2 + length:
        raise ItemError(
            item, f"TLV length {length} (record {len(raw) - 2} bytes), the item has {item.length}"
        )
    return decode_item(item, raw[2 : 2 + length])


def map_encode(items: tuple[Item, ...], values: dict, size: int) -> bytes:
    """A fixed record / binary map: every item at its offset; missing items are zero bytes."""
    unknown = set(values) - {it.name for it in items}
    if unknown:
        raise ItemError(sorted(unknown)[0], "no such item in this record")
    out = bytearray(size)
    for it in items:
        if it.name in values and values[it.name] is not None:
            out[it.offset : it.offset + it.length] = encode_item(it, values[it.name])
    return bytes(out)


def map_decode(items: tuple[Item, ...], raw: bytes) -> dict:
    size = max(it.offset + it.length for it in items)
    if len(raw) < size:
        raise ItemError(items[-1], f"record has {len(raw)} bytes, the map needs {size}")
    return {it.name: decode_item(it, raw[it.offset : it.offset + it.length]) for it in items}
