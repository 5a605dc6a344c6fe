"""An emulated card on a real PC/SC reader: the vpcd protocol (vsmartcard's virtual reader driver).

pcscd's vpcd driver listens on 127.0.0.1:35963 (first reader) and :35964 (second); the card connects as a
TCP client. Each message: 2-byte big-endian length, then the payload; a 1-byte payload is a control code
(0 power off, 1 power on, 2 reset, 4 get ATR), anything longer is an APDU to answer.
"""

from __future__ import annotations

import logging
import socket
import threading
import time

from .transport import Answering

log = logging.getLogger(__name__)

CARD_PORT, SAM_PORT = 35963, 35964
POWER_OFF, POWER_ON, RESET, GET_ATR = 0, 1, 2, 4


def _quickack(sock: socket.socket) -> None:
    # Without it the kernel delays the ACK and every APDU costs ~40 ms; it resets itself, so set it each time.
    if hasattr(socket, "TCP_QUICKACK"):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise ConnectionError("vpcd closed the connection")
        out += chunk
    _quickack(sock)
    return out


class VpcdCard:
    """Connects an emulated card (or SAM) to pcscd's vpcd reader and answers until stopped."""

    def __init__(self, card: Answering, *, host: str = "127.0.0.1", port: int = CARD_PORT):
        self.card, self.host, self.port = card, host, port
        self._stop = threading.Event()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None

    def serve_once(self, sock: socket.socket) -> None:
        while not self._stop.is_set():
            size = int.from_bytes(_recv_exact(sock, 2), "big")
            payload = _recv_exact(sock, size)
            if size == 1:
                code = payload[0]
                if code in (POWER_ON, RESET):
                    self.card.power_on()
                    continue
                if code == GET_ATR:
                    answer = self.card.power_on() if not hasattr(self.card, "atr") else self.card.atr
                elif code == POWER_OFF:
                    continue
                else:
                    continue
            else:
                answer = self.card.process(payload)
            sock.sendall(len(answer).to_bytes(2, "big") + answer)

    def run(self) -> None:
        """Connect (retrying while pcscd is not up yet) and answer; reconnect if pcscd restarts."""
        while not self._stop.is_set():
            try:
                with socket.create_connection((self.host, self.port), timeout=2) as sock:
                    sock.settimeout(None)
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    _quickack(sock)
                    self._sock = sock
                    self.serve_once(sock)
            except OSError as exc:
                if self._stop.is_set():
                    break
                log.debug("vpcd %s:%s: %s", self.host, self.port, exc)
                time.sleep(0.2)

    def start(self) -> VpcdCard:
        self._thread = threading.Thread(target=self.run, name=f"vpcd-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._sock is not None:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=3)
