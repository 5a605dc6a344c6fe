"""ISO 7816-4 APDUs the health card and the SAM speak, and status words as named errors.

`Channel` sits on a transport: it follows 61xx with GET RESPONSE and re-issues a command with the Le a
6Cxx asks for, so callers only see the final data or a named error.
"""

from __future__ import annotations

from dataclasses import dataclass

from .transport import Transport


@dataclass(frozen=True)
class Apdu:
    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    le: int | None = None  # None: no Le; 0: up to 256

    def to_bytes(self) -> bytes:
        out = bytes([self.cla, self.ins, self.p1, self.p2])
        if self.data:
            if len(self.data) > 255:
                raise ValueError(f"APDU data of {len(self.data)} bytes: short APDUs carry at most 255")
            out += bytes([len(self.data)]) + self.data
        if self.le is not None:
            out += bytes([self.le & 0xFF])
        return out

    @classmethod
    def parse(cls, raw: bytes) -> Apdu:
        if len(raw) < 4:
            raise ValueError("an APDU has at least 4 bytes")
        cla, ins, p1, p2 = raw[:4]
        body = raw[4:]
        if not body:
            return cls(cla, ins, p1, p2)
        if len(body) == 1:
            return cls(cla, ins, p1, p2, le=body[0])
        lc = body[0]
        data = body[1 : 1 + lc]
        if len(data) != lc:
            raise ValueError("Lc does not match the data")
        rest = body[1 + lc :]
        return cls(cla, ins, p1, p2, data, rest[0] if rest else None)


class ApduError(Exception):
    """A status word other than 9000."""

    sw: int = 0
    meaning = "card error"

    def __init__(self, sw: int, command: str = ""):
        self.sw = sw
        self.command = command
        super().__init__(f"{command + ': ' if command else ''}{self.meaning} (SW {sw:04X})")


def _error(name: str, meaning: str) -> type[ApduError]:
    return type(name, (ApduError,), {"meaning": meaning})


WrongLength = _error("WrongLength", "wrong length")
SecurityStatusNotSatisfied = _error("SecurityStatusNotSatisfied", "security status not satisfied")
AuthenticationFailed = _error("AuthenticationFailed", "authentication failed")
AuthenticationBlocked = _error("AuthenticationBlocked", "authentication method blocked")
ConditionsNotSatisfied = _error("ConditionsNotSatisfied", "conditions of use not satisfied")
SecureMessagingError = _error("SecureMessagingError", "secure messaging data objects incorrect (bad MAC)")
IncompatibleFile = _error("IncompatibleFile", "command incompatible with the file structure")
WrongData = _error("WrongData", "incorrect data")
FileNotFound = _error("FileNotFound", "file not found")
RecordNotFound = _error("RecordNotFound", "record not found")
WrongParameters = _error("WrongParameters", "wrong parameters P1-P2")
InsNotSupported = _error("InsNotSupported", "instruction not supported")
ClaNotSupported = _error("ClaNotSupported", "class not supported")
OutOfFile = _error("OutOfFile", "offset outside the file")
NoPreciseDiagnosis = _error("NoPreciseDiagnosis", "no precise diagnosis")


class WrongPin(ApduError):
    meaning = "wrong PIN"

    @property
    def tries_left(self) -> int:
        return self.sw & 0x0F


STATUS_WORDS: dict[int, type[ApduError]] = {
    0x6700: WrongLength,
    0x6981: IncompatibleFile,
    0x6982: SecurityStatusNotSatisfied,
    0x6983: AuthenticationBlocked,
    0x6985: ConditionsNotSatisfied,
    0x6987: SecureMessagingError,
    0x6988: SecureMessagingError,
    0x6A80: WrongData,
    0x6A82: FileNotFound,
    0x6A83: RecordNotFound,
    0x6A86: WrongParameters,
    0x6B00: OutOfFile,
    0x6D00: InsNotSupported,
    0x6E00: ClaNotSupported,
    0x6F00: NoPreciseDiagnosis,
    0x6300: AuthenticationFailed,
}


def error_for(sw: int, command: str = "") -> ApduError:
    if sw & 0xFFF0 == 0x63C0:
        return WrongPin(sw, command)
    return STATUS_WORDS.get(sw, ApduError)(sw, command)


# --- commands ------------------------------------------------------------------------------------------


def select(fid: int) -> Apdu:
    return Apdu(0x00, 0xA4, 0x00, 0x00, fid.to_bytes(2, "big"))


def read_binary(offset: int, length: int) -> Apdu:
    if offset > 0x7FFF:
        raise ValueError("READ BINARY offset above 32767")
    return Apdu(0x00, 0xB0, offset >> 8, offset & 0xFF, le=length & 0xFF)


def update_binary(offset: int, data: bytes) -> Apdu:
    return Apdu(0x00, 0xD6, offset >> 8, offset & 0xFF, data)


def read_record(number: int, length: int = 0) -> Apdu:
    return Apdu(0x00, 0xB2, number, 0x04, le=length)


def update_record(number: int, data: bytes) -> Apdu:
    return Apdu(0x00, 0xDC, number, 0x04, data)


def update_record_cyclic(data: bytes) -> Apdu:
    """Plain write of a cyclic file (allergies, immunisations): P2=03 writes the oldest record as newest."""
    return Apdu(0x00, 0xDC, 0x00, 0x03, data)


def append_record(data: bytes) -> Apdu:
    return Apdu(0x00, 0xE2, 0x00, 0x00, data)


def get_challenge(length: int = 8) -> Apdu:
    return Apdu(0x00, 0x84, 0x00, 0x00, le=length)


def external_authenticate(key_id: int, data: bytes) -> Apdu:
    return Apdu(0x00, 0x82, 0x00, key_id, data)


def get_response(length: int) -> Apdu:
    return Apdu(0x00, 0xC0, 0x00, 0x00, le=length)


def verify_pin(pin: bytes) -> Apdu:
    return Apdu(0x00, 0x20, 0x00, 0x00, pin)


def sam_diversify(key_usage: int, key_id: int, factors: bytes) -> Apdu:
    return Apdu(0x80, 0xDE, key_usage, key_id, factors)


SAM_ENCRYPT, SAM_MAC = 0x00, 0x05


def sam_cipher(mode: int, data: bytes) -> Apdu:
    return Apdu(0x80, 0xFA, mode, 0x00, data)


# --- the channel ---------------------------------------------------------------------------------------


class Channel:
    """Commands over one transport; 61xx and 6Cxx are handled here, every other non-9000 SW raises."""

    def __init__(self, transport: Transport, *, trace: list | None = None):
        self.transport = transport
        self.trace = trace  # when a list: (command bytes, response bytes) of every exchange

    def _exchange(self, apdu: Apdu) -> tuple[bytes, int]:
        raw = self.transport.transmit(apdu.to_bytes())
        if self.trace is not None:
            self.trace.append((apdu.to_bytes(), raw))
        if len(raw) < 2:
            raise ApduError(0, f"{apdu.ins:02X}: short response")
        return raw[:-2], int.from_bytes(raw[-2:], "big")

    def send(self, apdu: Apdu, *, name: str = "") -> bytes:
        data, sw = self._exchange(apdu)
        if sw >> 8 == 0x6C:  # wrong Le: the card says how many bytes it has
            apdu = Apdu(apdu.cla, apdu.ins, apdu.p1, apdu.p2, apdu.data, sw & 0xFF)
            data, sw = self._exchange(apdu)
        out = data
        while sw >> 8 == 0x61:  # more data waiting
            data, sw = self._exchange(get_response(sw & 0xFF))
            out += data
        if sw != 0x9000:
            raise error_for(sw, name or f"{apdu.cla:02X} {apdu.ins:02X}")
        return out
