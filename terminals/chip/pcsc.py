"""Readers through pyscard (PC/SC): list, pick the user-card reader and the SAM slot by name, wait, connect."""

from __future__ import annotations

import time


class ReaderNotFound(LookupError):
    pass


def list_readers() -> list[str]:
    from smartcard.System import readers

    return [str(r) for r in readers()]


def find_reader(pattern: str) -> str:
    """The first reader whose name contains `pattern` (case-insensitive)."""
    names = list_readers()
    for name in names:
        if pattern.lower() in name.lower():
            return name
    raise ReaderNotFound(f"no reader matching {pattern!r}; readers: {', '.join(names) or 'none'}")


def card_present(reader_name: str) -> bool:
    from smartcard.Exceptions import CardConnectionException, NoCardException
    from smartcard.System import readers

    for r in readers():
        if str(r) == reader_name:
            conn = r.createConnection()
            try:
                conn.connect()
            except (NoCardException, CardConnectionException):
                return False
            conn.disconnect()
            return True
    raise ReaderNotFound(reader_name)


def wait_for_card(reader_name: str, *, present: bool = True, timeout: float = 10.0) -> bool:
    """Wait until a card is inserted (present=True) or removed; False on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if card_present(reader_name) == present:
            return True
        time.sleep(0.1)
    return False


class PcscTransport:
    """A transport on one PC/SC reader."""

    def __init__(self, reader_name: str):
        self.reader_name = reader_name
        self.connection = None

    def connect(self) -> bytes:
        from smartcard.System import readers

        for r in readers():
            if str(r) == self.reader_name:
                self.connection = r.createConnection()
                self.connection.connect()
                return bytes(self.connection.getATR())
        raise ReaderNotFound(self.reader_name)

    def transmit(self, command: bytes) -> bytes:
        data, sw1, sw2 = self.connection.transmit(list(command))
        return bytes(data) + bytes([sw1, sw2])

    def disconnect(self) -> None:
        if self.connection is not None:
            self.connection.disconnect()
            self.connection = None
