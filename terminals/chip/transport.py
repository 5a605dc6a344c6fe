"""How APDUs reach a card: an abstract transport, and the in-process one tests and the demo use."""

from __future__ import annotations

from typing import Protocol


class Transport(Protocol):
    def connect(self) -> bytes:
        """Power the card and return its ATR."""

    def transmit(self, command: bytes) -> bytes:
        """Send one APDU, return response data || SW1 SW2."""

    def disconnect(self) -> None: ...


class Answering(Protocol):
    """What an emulated card offers: power on (ATR) and APDU handling."""

    def power_on(self) -> bytes: ...

    def process(self, command: bytes) -> bytes: ...


class InProcessTransport:
    """Calls the emulated card directly: no PC/SC, no sockets (unit tests, `terminal_agent --emulator`)."""

    def __init__(self, card: Answering):
        self.card = card
        self.atr = b""

    def connect(self) -> bytes:
        self.atr = self.card.power_on()
        return self.atr

    def transmit(self, command: bytes) -> bytes:
        return self.card.process(bytes(command))

    def disconnect(self) -> None:
        self.atr = b""
