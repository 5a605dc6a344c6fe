"""The product's own test double and demo device: a virtual health card and a virtual SAM.

Both enforce what a real one would: protected reads need read authentication, writes need update
authentication, secure-messaging writes need a valid MAC, the SAM needs its PIN. Keys are diversified from
a demo master key (crypto.DEMO_MASTER_SEED) that says it is one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from . import layout
from .apdu import Apdu
from .crypto import (
    demo_master_key,
    diversify_chain,
    fold,
    mac4,
    pf_factor,
    sm4_decrypt,
    sm4_encrypt,
    unpad80,
)
from .layout import Structure

OK = b"\x90\x00"


def sw(value: int) -> bytes:
    return value.to_bytes(2, "big")


def make_atr(cn: bytes) -> bytes:
    """3B 8A 80 01, historical bytes "HC" + CN (8 bytes), TCK. CN = the last 8 historical bytes."""
    body = bytes([0x8A, 0x80, 0x01]) + b"HC" + cn
    tck = 0
    for b in body[1:]:
        tck ^= b
    tck ^= body[0]
    return b"\x3b" + body + bytes([tck])


def cn_from_atr(atr: bytes) -> bytes:
    return bytes(atr[-9:-1])


def card_keys(cn: bytes, city_code: str) -> dict[str, dict[str, bytes]]:
    """The keys a card of this CN is personalised with at manufacture (per DF: read, update, transport)."""
    out = {}
    for name, df in layout.DFS.items():
        factors = cn + (pf_factor(city_code) if df.levels == 2 else b"")
        out[name] = {
            "read": diversify_chain(demo_master_key(df.sam_read_key), factors),
            "update": diversify_chain(demo_master_key(df.sam_update_key), factors),
            "transport": diversify_chain(demo_master_key(df.sam_transport_key), factors),
        }
    return out


def _record_capacity(ef: layout.EF, index: int) -> int:
    if ef.structure == Structure.TLV_RECORDS:
        return 2 + ef.items[index].length
    return ef.record_size


@dataclass
class VirtualHealthCard:
    """A blank (unpersonalised) health card: every file exists, empty; keys loaded for its CN and province."""

    city_code: str = "610100"
    cn: bytes = field(default_factory=lambda: os.urandom(8))

    def __post_init__(self):
        self.atr = make_atr(self.cn)
        self.keys = card_keys(self.cn, self.city_code)
        self.records: dict[str, list[bytearray]] = {}
        self.binaries: dict[str, bytearray] = {}
        for ef in layout.ALL_FILES:
            if ef.structure == Structure.TRANSPARENT:
                self.binaries[ef.key] = bytearray(ef.size)
            else:
                fill = 0xFF if ef.df == "DF03" else 0x00  # DF03 slot flags start erased
                self.records[ef.key] = [
                    bytearray([fill]) * _record_capacity(ef, i) for i in range(ef.records)
                ]
        self.power_on()

    @property
    def chip_serial(self) -> str:
        return self.cn.hex().upper()

    # --- session state -----------------------------------------------------------------------------------
    def power_on(self) -> bytes:
        self.df: str | None = None
        self.ef: layout.EF | None = None
        self.challenges: list[bytes] = []
        self.auth: set[tuple[str, str]] = set()
        return self.atr

    def process(self, command: bytes) -> bytes:
        try:
            apdu = Apdu.parse(command)
        except ValueError:
            return sw(0x6700)
        handler = {
            (0x00, 0xA4): self._select,
            (0x00, 0x84): self._get_challenge,
            (0x00, 0x82): self._external_authenticate,
            (0x00, 0xB2): self._read_record,
            (0x00, 0xB0): self._read_binary,
            (0x00, 0xD6): self._update_binary,
            (0x00, 0xDC): self._update_record,
            (0x04, 0xDC): self._update_record_sm,
            (0x00, 0xE2): self._append_record,
        }.get((apdu.cla, apdu.ins))
        if handler is None:
            return sw(0x6E00) if apdu.cla not in (0x00, 0x04) else sw(0x6D00)
        return handler(apdu)

    # --- commands ----------------------------------------------------------------------------------------
    def _select(self, apdu: Apdu) -> bytes:
        if apdu.p1 != 0 or len(apdu.data) != 2:
            return sw(0x6A86)
        fid = int.from_bytes(apdu.data, "big")
        if fid == layout.MF_FID:
            self.df, self.ef, self.auth = None, None, set()
            return OK
        if fid in layout.DF_BY_FID:
            name = layout.DF_BY_FID[fid].name
            if name != self.df:
                self.auth = set()
            self.df, self.ef = name, None
            return OK
        if self.df is None or fid not in layout.DFS[self.df].files:
            return sw(0x6A82)
        self.ef = layout.DFS[self.df].files[fid]
        return OK

    def _get_challenge(self, apdu: Apdu) -> bytes:
        if apdu.le != 8:
            return sw(0x6C08)
        r = os.urandom(8)
        self.challenges = (self.challenges + [r])[-2:]
        return r + OK

    def _external_authenticate(self, apdu: Apdu) -> bytes:
        if self.df is None:
            return sw(0x6985)
        if len(apdu.data) != 17 or not self.challenges:
            return sw(0x6700) if self.challenges else sw(0x6985)
        df = layout.DFS[self.df]
        if apdu.p2 == df.read_key:
            kind = "read"
        elif apdu.p2 == df.update_key:
            kind = "update"
        else:
            return sw(0x6A86)
        got, plain = apdu.data[:8], apdu.data[8:16]
        r = self.challenges[-1]
        if kind == "update" and (len(self.challenges) < 2 or plain != self.challenges[0]):
            self.challenges = []
            return sw(0x6300)
        session = diversify_chain(self.keys[self.df][kind], r)
        self.challenges = []
        if fold(sm4_encrypt(session, plain + bytes(8))) != got:
            return sw(0x6300)
        self.auth.add((kind, self.df))
        return OK

    def _current(self, structure: tuple[Structure, ...]) -> layout.EF | bytes:
        if self.ef is None:
            return sw(0x6985)
        if self.ef.structure not in structure:
            return sw(0x6981)
        return self.ef

    def _may_read(self) -> bool:
        return self.ef.free_read or ("read", self.ef.df) in self.auth or ("update", self.ef.df) in self.auth

    def _may_update(self) -> bool:
        return ("update", self.ef.df) in self.auth

    def _read_record(self, apdu: Apdu) -> bytes:
        ef = self._current((Structure.TLV_RECORDS, Structure.FIXED_RECORDS, Structure.CYCLIC))
        if isinstance(ef, bytes):
            return ef
        if apdu.p2 != 0x04:
            return sw(0x6A86)
        if not self._may_read():
            return sw(0x6982)
        if not 1 <= apdu.p1 <= ef.records:
            return sw(0x6A83)
        data = bytes(self.records[ef.key][apdu.p1 - 1])
        if apdu.le not in (0, None, len(data)):
            return sw(0x6C00 | len(data))
        return data + OK

    def _read_binary(self, apdu: Apdu) -> bytes:
        ef = self._current((Structure.TRANSPARENT,))
        if isinstance(ef, bytes):
            return ef
        if not self._may_read():
            return sw(0x6982)
        offset = (apdu.p1 << 8) | apdu.p2
        if offset >= ef.size:
            return sw(0x6B00)
        want = apdu.le or 256
        have = min(want, ef.size - offset)
        if have < want:
            return sw(0x6C00 | have)
        return bytes(self.binaries[ef.key][offset : offset + have]) + OK

    def _update_binary(self, apdu: Apdu) -> bytes:
        ef = self._current((Structure.TRANSPARENT,))
        if isinstance(ef, bytes):
            return ef
        if not self._may_update():
            return sw(0x6982)
        offset = (apdu.p1 << 8) | apdu.p2
        if offset + len(apdu.data) > ef.size:
            return sw(0x6B00)
        self.binaries[ef.key][offset : offset + len(apdu.data)] = apdu.data
        return OK

    def _write_record(self, ef: layout.EF, number: int, data: bytes) -> bytes:
        if not 1 <= number <= ef.records:
            return sw(0x6A83)
        capacity = _record_capacity(ef, number - 1)
        if len(data) != capacity:
            return sw(0x6700)
        self.records[ef.key][number - 1] = bytearray(data)
        return OK

    def _cyclic_write(self, ef: layout.EF, data: bytes) -> bytes:
        if len(data) != ef.record_size:
            return sw(0x6700)
        records = self.records[ef.key]
        records.insert(0, bytearray(data))
        del records[ef.records :]
        return OK

    def _update_record(self, apdu: Apdu) -> bytes:
        ef = self._current((Structure.TLV_RECORDS, Structure.FIXED_RECORDS, Structure.CYCLIC))
        if isinstance(ef, bytes):
            return ef
        if not self._may_update():
            return sw(0x6982)
        if ef.structure == Structure.CYCLIC:
            if (apdu.p1, apdu.p2) != (0x00, 0x03):
                return sw(0x6A86)
            return self._cyclic_write(ef, apdu.data)
        if ef.structure == Structure.TLV_RECORDS:
            return sw(0x6982)  # TLV records are written only with secure messaging (04 DC)
        if apdu.p2 != 0x04:
            return sw(0x6A86)
        return self._write_record(ef, apdu.p1, apdu.data)

    def _append_record(self, apdu: Apdu) -> bytes:
        ef = self._current((Structure.CYCLIC,))
        if isinstance(ef, bytes):
            return ef
        if not self._may_update():
            return sw(0x6982)
        return self._cyclic_write(ef, apdu.data)

    def _update_record_sm(self, apdu: Apdu) -> bytes:
        ef = self._current((Structure.TLV_RECORDS,))
        if isinstance(ef, bytes):
            return ef
        if not self._may_update():
            return sw(0x6982)
        if not self.challenges or len(apdu.data) < 4 + 16 or (len(apdu.data) - 4) % 16:
            return sw(0x6988)
        session = diversify_chain(self.keys[ef.df]["transport"], self.challenges[-1])
        self.challenges = []
        ct, mac = apdu.data[:-4], apdu.data[-4:]
        header = bytes([apdu.cla, apdu.ins, apdu.p1, apdu.p2, len(apdu.data)])
        if mac4(session, header + ct) != mac:
            return sw(0x6988)
        try:
            plain = unpad80(sm4_decrypt(session, ct))
        except ValueError:
            return sw(0x6988)
        if not plain or plain[0] != len(plain) - 1:
            return sw(0x6A80)
        return self._write_record(ef, apdu.p1, plain[1:])


# --- the SAM -------------------------------------------------------------------------------------------

SAM_FILES = {
    ("MF", 0x0015): "serial",
    ("MF", 0x0016): "terminal",
    ("DF01", 0x001A): "keyinfo",
    ("DF01", 0x001B): "issuer_cert",
    ("DF01", 0x001C): "sam_cert",
}


@dataclass
class VirtualSam:
    """A PSAM with the demo master keys: PIN, serial, terminal number, certificates, 80DE, 80FA."""

    serial: str = "SAM0000001"  # 10 characters
    terminal_number: str = "610101000001"  # province, city, issuer, 3-byte sequence (BCD)
    pin: bytes = b"\x12\x34\x56"
    tries: int = 3

    def __post_init__(self):
        self.files = {
            "serial": self.serial.encode("ascii").ljust(10, b"\x00") + b"\x01\x00",  # serial + versions
            "terminal": bytes.fromhex(self.terminal_number),
            "keyinfo": bytes([0x01]) + b"ISSUER01" + b"RECEIVR1" + bytes.fromhex("2026010120361231"),
            "issuer_cert": bytes(range(180)),
            "sam_cert": bytes((i * 7) & 0xFF for i in range(190)),
        }
        self.atr = make_atr(self.serial.encode("ascii")[-8:].rjust(8, b"\x00"))
        self.power_on()

    def power_on(self) -> bytes:
        self.pin_ok = False
        self.df = "MF"
        self.selected: str | None = None
        self.key: bytes | None = None
        self.pending = b""
        return self.atr

    def process(self, command: bytes) -> bytes:
        try:
            apdu = Apdu.parse(command)
        except ValueError:
            return sw(0x6700)
        ins = (apdu.cla, apdu.ins)
        if ins == (0x00, 0xA4):
            fid = int.from_bytes(apdu.data, "big")
            if fid == 0x3F00:
                self.df, self.selected = "MF", None
            elif fid == 0xDF01:
                self.df, self.selected = "DF01", None
            elif (self.df, fid) in SAM_FILES:
                self.selected = SAM_FILES[(self.df, fid)]
            else:
                return sw(0x6A82)
            return OK
        if ins == (0x00, 0xB0):
            if self.selected is None:
                return sw(0x6985)
            data = self.files[self.selected]
            offset = (apdu.p1 << 8) | apdu.p2
            want = apdu.le or 256
            chunk = data[offset : offset + want]
            if len(chunk) < want and apdu.le:
                return sw(0x6C00 | len(chunk))
            return chunk + OK
        if ins == (0x00, 0x20):
            if self.tries == 0:
                return sw(0x6983)
            if apdu.data != self.pin:
                self.tries -= 1
                return sw(0x63C0 | self.tries) if self.tries else sw(0x6983)
            self.tries, self.pin_ok = 3, True
            return OK
        if ins == (0x00, 0xC0):
            if not self.pending:
                return sw(0x6985)
            if apdu.le not in (0, len(self.pending)):
                return sw(0x6C00 | len(self.pending))
            out, self.pending = self.pending, b""
            return out + OK
        if ins == (0x80, 0xDE):
            if not self.pin_ok:
                return sw(0x6982)
            if apdu.p1 != 0x47 or not 0x31 <= apdu.p2 <= 0x3C:
                return sw(0x6A86)
            if not apdu.data or len(apdu.data) % 8:
                return sw(0x6700)
            self.key = diversify_chain(demo_master_key(apdu.p2), apdu.data)
            return OK
        if ins == (0x80, 0xFA):
            if not self.pin_ok:
                return sw(0x6982)
            if self.key is None:
                return sw(0x6985)
            if apdu.p1 == 0x00:
                if not apdu.data or len(apdu.data) % 16:
                    return sw(0x6700)
                self.pending = sm4_encrypt(self.key, apdu.data)
            elif apdu.p1 == 0x05:
                self.pending = mac4(self.key, apdu.data)
            else:
                return sw(0x6A86)
            return sw(0x6100 | len(self.pending))
        return sw(0x6D00)
