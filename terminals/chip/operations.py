"""SAM and health-card operations as the national reader API names them (read/write per file group).

`Sam` wraps the PSAM slot; `HealthCard` the user card, authenticating through the SAM as CARD.md
describes. Values are plain dicts keyed by the item names of `layout`.
"""

from __future__ import annotations

import datetime

from . import apdu as A
from . import layout
from .apdu import Channel
from .codecs import ItemError, map_decode, map_encode, tlv_decode, tlv_encode
from .crypto import fold, pad80, pf_factor
from .emulator import cn_from_atr
from .layout import Structure

READ_AUTH_PLAIN = bytes.fromhex("1122334455667788")
CHUNK = 0xF0  # bytes per READ/UPDATE BINARY


class Sam:
    def __init__(self, channel: Channel):
        self.channel = channel

    def verify_pin(self, pin: bytes) -> None:
        self.channel.send(A.select(layout.MF_FID), name="SAM select MF")
        self.channel.send(A.verify_pin(pin), name="SAM PIN")

    def _read_file(self, df: int | None, fid: int, length: int) -> bytes:
        self.channel.send(A.select(layout.MF_FID), name="SAM select MF")
        if df is not None:
            self.channel.send(A.select(df), name="SAM select DF")
        self.channel.send(A.select(fid), name=f"SAM select {fid:04X}")
        out = b""
        while len(out) < length:
            out += self.channel.send(A.read_binary(len(out), min(CHUNK, length - len(out))), name="SAM read")
        return out

    def serial(self) -> str:
        return self._read_file(None, 0x0015, 10).rstrip(b"\x00").decode("ascii")

    def terminal_number(self) -> str:
        return self._read_file(None, 0x0016, 6).hex().upper()

    def certificates(self) -> dict[str, bytes]:
        return {
            "issuer": self._read_file(0xDF01, 0x001B, 180),
            "sam": self._read_file(0xDF01, 0x001C, 190),
        }

    def diversify(self, key_id: int, factors: bytes) -> None:
        self.channel.send(A.sam_diversify(0x47, key_id, factors), name="SAM 80DE")

    def encrypt(self, data: bytes) -> bytes:
        return self.channel.send(A.sam_cipher(A.SAM_ENCRYPT, data), name="SAM 80FA encrypt")

    def mac(self, data: bytes) -> bytes:
        return self.channel.send(A.sam_cipher(A.SAM_MAC, data), name="SAM 80FA MAC")


class HealthCard:
    """The user card. `city_code` (for PF) comes from DDF1/EF05; a blank card needs it from the issuance."""

    def __init__(self, channel: Channel, sam: Sam, atr: bytes, *, city_code: str = ""):
        self.channel = channel
        self.sam = sam
        self.cn = cn_from_atr(atr)
        self._city_code = city_code
        self._df: str | None = None

    @property
    def chip_serial(self) -> str:
        return self.cn.hex().upper()

    # --- selection and authentication ------------------------------------------------------------------
    def _select_df(self, df: str) -> None:
        if self._df != df:
            self.channel.send(A.select(layout.DFS[df].fid), name=f"select {df}")
            self._df = df

    def _select(self, ef: layout.EF) -> None:
        self._select_df(ef.df)
        self.channel.send(A.select(ef.fid), name=f"select {ef.key}")

    def city_code(self) -> str:
        if not self._city_code:
            ef = layout.DDF1_EF05
            self._select(ef)
            item = ef.item("city_code")
            raw = self.channel.send(A.read_record(ef.items.index(item) + 1), name="read city code")
            self._city_code = tlv_decode(item, raw) or ""
            if not self._city_code:
                raise ItemError(item, "the card has no application city code (blank card?)")
        return self._city_code

    def _factors(self, df: layout.DF) -> bytes:
        return self.cn + (pf_factor(self.city_code()) if df.levels == 2 else b"")

    def read_auth(self, df_name: str) -> None:
        df = layout.DFS[df_name]
        factors = self._factors(df)
        self._select_df(df_name)
        r = self.channel.send(A.get_challenge(), name="GET CHALLENGE")
        self.sam.diversify(df.sam_read_key, factors + r)
        c = self.sam.encrypt(READ_AUTH_PLAIN + bytes(8))
        self.channel.send(
            A.external_authenticate(df.read_key, fold(c) + READ_AUTH_PLAIN + b"\x01"), name="read auth"
        )

    def update_auth(self, df_name: str) -> None:
        df = layout.DFS[df_name]
        factors = self._factors(df)
        self._select_df(df_name)
        r1 = self.channel.send(A.get_challenge(), name="GET CHALLENGE")
        r2 = self.channel.send(A.get_challenge(), name="GET CHALLENGE")
        self.sam.diversify(df.sam_update_key, factors + r2)
        c = self.sam.encrypt(r1 + bytes(8))
        self.channel.send(A.external_authenticate(df.update_key, fold(c) + r1 + b"\x01"), name="update auth")

    # --- raw reads and writes --------------------------------------------------------------------------
    def _read_records(self, ef: layout.EF) -> list[bytes]:
        self._select(ef)
        return [
            self.channel.send(A.read_record(n), name=f"read {ef.key} #{n}") for n in range(1, ef.records + 1)
        ]

    def _read_binary(self, ef: layout.EF, length: int | None = None) -> bytes:
        self._select(ef)
        length = ef.size if length is None else length
        out = b""
        while len(out) < length:
            out += self.channel.send(
                A.read_binary(len(out), min(CHUNK, length - len(out))), name=f"read {ef.key}"
            )
        return out

    def _write_binary(self, ef: layout.EF, data: bytes) -> None:
        self._select(ef)
        for offset in range(0, len(data), CHUNK):
            self.channel.send(A.update_binary(offset, data[offset : offset + CHUNK]), name=f"write {ef.key}")

    def _write_tlv_sm(self, ef: layout.EF, number: int, record: bytes) -> None:
        """Secure-messaging UPDATE RECORD: SAM encrypts len||TLV and MACs the command with the transport key."""
        df = layout.DFS[ef.df]
        factors = self._factors(df)
        self._select(ef)
        r3 = self.channel.send(A.get_challenge(), name="GET CHALLENGE")
        self.sam.diversify(df.sam_transport_key, factors + r3)
        ct = self.sam.encrypt(pad80(bytes([len(record)]) + record))
        header = bytes([0x04, 0xDC, number, 0x04, len(ct) + 4])
        mac = self.sam.mac(header + ct)
        self.channel.send(A.Apdu(0x04, 0xDC, number, 0x04, ct + mac), name=f"write {ef.key} #{number}")

    # --- file groups -----------------------------------------------------------------------------------
    def read_file(self, key: str) -> dict:
        """A TLV file as {item: value}; unwritten items are None."""
        ef = layout.FILES[key]
        if ef.structure != Structure.TLV_RECORDS:
            raise ValueError(f"{key} is not a TLV file")
        if not ef.free_read:
            self.read_auth(ef.df)
        return {
            it.name: tlv_decode(it, raw) for it, raw in zip(ef.items, self._read_records(ef), strict=True)
        }

    def write_file(self, key: str, values: dict, *, authenticated: bool = False) -> None:
        ef = layout.FILES[key]
        if ef.structure != Structure.TLV_RECORDS:
            raise ValueError(f"{key} is not a TLV file")
        records = []
        for name, value in values.items():
            item = ef.item(name) if name in {it.name for it in ef.items} else None
            if item is None:
                raise ItemError(name, f"no such item in {key}")
            records.append((ef.items.index(item) + 1, tlv_encode(item, value)))
        if not authenticated:
            self.update_auth(ef.df)
        for number, record in records:
            self._write_tlv_sm(ef, number, record)

    def _read_cyclic(self, ef: layout.EF) -> list[dict]:
        self.read_auth(ef.df)
        out = []
        for raw in self._read_records(ef):
            if set(raw) <= {0x00} or set(raw) <= {0xFF}:
                continue
            out.append(map_decode(ef.items, raw))
        return out

    def _append_cyclic(self, ef: layout.EF, values: dict) -> None:
        raw = map_encode(ef.items, values, ef.record_size)
        self.update_auth(ef.df)
        self._select(ef)
        self.channel.send(A.update_record_cyclic(raw), name=f"append {ef.key}")

    def read_allergies(self) -> list[dict]:
        return self._read_cyclic(layout.DF02_EF07)

    def add_allergy(self, *, allergen: str, reaction: str) -> None:
        self._append_cyclic(layout.DF02_EF07, {"allergen": allergen, "reaction": reaction})

    def read_immunisations(self) -> list[dict]:
        return self._read_cyclic(layout.DF02_EF08)

    def add_immunisation(self, *, vaccine: str, date: str | datetime.date) -> None:
        self._append_cyclic(layout.DF02_EF08, {"vaccine": vaccine, "date": date})

    def read_photo(self) -> bytes:
        self.read_auth("DDF1")
        head = self._read_binary(layout.DDF1_EF07, 2)
        length = int.from_bytes(head, "big")
        if length == 0:
            return b""
        return self._read_binary(layout.DDF1_EF07, 2 + length)[2:]

    def write_photo(self, photo: bytes) -> None:
        if len(photo) > layout.PHOTO_MAX:
            raise ItemError("photo", f"{len(photo)} bytes, at most {layout.PHOTO_MAX} fit")
        self.update_auth("DDF1")
        self._write_binary(layout.DDF1_EF07, len(photo).to_bytes(2, "big") + photo)

    # --- DF03 clinical records ---------------------------------------------------------------------------
    def _slots(self, kind: str) -> tuple[layout.EF, tuple[layout.EF, ...]]:
        if kind == "inpatient":
            return layout.DF03_EF05, layout.INPATIENT_FILES
        if kind == "outpatient":
            return layout.DF03_EF06, layout.OUTPATIENT_FILES
        raise ValueError(kind)

    def record_flags(self, kind: str) -> list[bool]:
        flags, _ = self._slots(kind)
        self.read_auth("DF03")
        return [raw[:1] == bytes([layout.SLOT_VALID]) for raw in self._read_records(flags)]

    def read_records(self, kind: str) -> list[dict]:
        """Valid records, each with its slot number."""
        valid = self.record_flags(kind)
        _, files = self._slots(kind)
        out = []
        for slot, (ok, ef) in enumerate(zip(valid, files, strict=True), start=1):
            if ok:
                out.append({"slot": slot, **map_decode(ef.items, self._read_binary(ef))})
        return out

    def write_record(self, kind: str, slot: int, values: dict) -> None:
        flags, files = self._slots(kind)
        if not 1 <= slot <= len(files):
            raise ValueError(f"{kind} slot {slot}: the card has {len(files)}")
        ef = files[slot - 1]
        raw = map_encode(ef.items, values, ef.size)
        self.update_auth("DF03")
        self._write_binary(ef, raw)
        self._select(flags)
        self.channel.send(A.update_record(slot, bytes([layout.SLOT_VALID])), name=f"flag {kind} {slot}")

    def erase_record(self, kind: str, slot: int) -> None:
        flags, files = self._slots(kind)
        if not 1 <= slot <= len(files):
            raise ValueError(f"{kind} slot {slot}: the card has {len(files)}")
        self.update_auth("DF03")
        self._select(flags)
        self.channel.send(A.update_record(slot, bytes([layout.SLOT_ERASED])), name=f"erase {kind} {slot}")

    def next_free_slot(self, kind: str) -> int:
        """The first erased slot, else the first (oldest is overwritten by the caller's choice)."""
        flags = self.record_flags(kind)
        return next((n for n, ok in enumerate(flags, 1) if not ok), 1)

    # --- the whole card --------------------------------------------------------------------------------
    def read_all(self) -> dict:
        out = {
            key: self.read_file(key)
            for key, ef in layout.FILES.items()
            if ef.structure == Structure.TLV_RECORDS
        }
        out["allergies"] = self.read_allergies()
        out["immunisations"] = self.read_immunisations()
        out["inpatient"] = self.read_records("inpatient")
        out["outpatient"] = self.read_records("outpatient")
        return out

    def personalise(self, *, issuer: dict, holder: dict, card: dict) -> None:
        """Write a blank card at issuance: issuer data (DDF1/EF05, chip serial from the chip), holder
        (DDF1/EF06), card expiry and phones (DDF1/EF08)."""
        issuer = {**issuer, "chip_serial": self.chip_serial[:10]}
        self._city_code = issuer.get("city_code") or self._city_code
        self.update_auth("DDF1")
        self.write_file("DDF1/EF05", issuer, authenticated=True)
        self.write_file("DDF1/EF06", holder, authenticated=True)
        self.write_file("DDF1/EF08", card, authenticated=True)
        # A blank card's DF03 slots are all erased; nothing to do there.
