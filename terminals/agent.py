"""The terminal agent: runs on the counter PC, drives the reader (pyscard or the in-process emulator) and
serves a small JSON API on 127.0.0.1 to the clerk's browser, paired by a token, CORS for one origin only.

No Django here: the agent needs only the chip package (the counter PC has no database).
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from terminals.chip import layout
from terminals.chip.apdu import ApduError, Channel
from terminals.chip.codecs import ItemError
from terminals.chip.emulator import VirtualHealthCard, VirtualSam
from terminals.chip.operations import HealthCard, Sam
from terminals.chip.transport import InProcessTransport

log = logging.getLogger(__name__)
DEMO_SAM_PIN = b"\x12\x34\x56"
OPAQUE_ITEMS = {"rest", "signature", "sam_certificate"}


def _jsonable(value):
    if isinstance(value, bytes):
        return value.hex().upper()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items() if k not in OPAQUE_ITEMS}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


class Devices:
    """The two slots: the user card and the SAM. `emulator=True`: both in process, a blank card inserted."""

    def __init__(
        self, *, emulator: bool, card_reader: str = "", sam_reader: str = "", sam_pin: bytes = DEMO_SAM_PIN
    ):
        self.emulator = emulator
        self.card_reader, self.sam_reader, self.sam_pin = card_reader, sam_reader, sam_pin
        self.lock = threading.Lock()
        if emulator:
            self.virtual_sam = VirtualSam()
            self.virtual_card: VirtualHealthCard | None = VirtualHealthCard()

    def insert_blank(self) -> str:
        self.virtual_card = VirtualHealthCard()
        return self.virtual_card.chip_serial

    def _transport(self, which: str):
        if self.emulator:
            device = self.virtual_card if which == "card" else self.virtual_sam
            if device is None:
                raise ApduError(0x6A82, "no card in the field")
            return InProcessTransport(device)
        from terminals.chip.pcsc import PcscTransport, find_reader

        return PcscTransport(find_reader(self.card_reader if which == "card" else self.sam_reader))

    def sam(self) -> Sam:
        transport = self._transport("sam")
        transport.connect()
        sam = Sam(Channel(transport))
        sam.verify_pin(self.sam_pin)
        return sam

    def card(self, *, city_code: str = "") -> HealthCard:
        sam = self.sam()
        transport = self._transport("card")
        atr = transport.connect()
        return HealthCard(Channel(transport), sam, atr, city_code=city_code)


def read_card(card: HealthCard) -> dict:
    data = card.read_all()
    return _jsonable({"chip_serial": card.chip_serial, **data})


def write_card(card: HealthCard, body: dict) -> None:
    if "file" in body:
        card.write_file(body["file"], body.get("values") or {})
    elif "immunisation" in body:
        card.add_immunisation(**body["immunisation"])
    elif "allergy" in body:
        card.add_allergy(**body["allergy"])
    elif "record" in body:
        rec = body["record"]
        slot = rec.get("slot") or card.next_free_slot(rec["kind"])
        card.write_record(rec["kind"], int(slot), rec.get("values") or {})
    elif "erase" in body:
        card.erase_record(body["erase"]["kind"], int(body["erase"]["slot"]))
    else:
        raise ItemError("request", "nothing to write")


def issue_card(devices: Devices, body: dict) -> dict:
    """Personalise a blank card, then read the personalised files back in a fresh session (power cycled)."""
    card = devices.card(city_code=(body.get("issuer") or {}).get("city_code", ""))
    if card.read_file("DDF1/EF05").get("card_no"):
        raise ItemError("card_no", "the card in the reader is not blank")
    card.personalise(issuer=body["issuer"], holder=body["holder"], card=body["card"])
    again = devices.card()
    return _jsonable({"chip_serial": again.chip_serial, "readback": _readback(again)})


class AgentServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, devices: Devices, *, token: str, origin: str, port: int = 0):
        self.devices, self.token, self.origin = devices, token, origin.rstrip("/")
        super().__init__(("127.0.0.1", port), AgentHandler)  # loopback only, never a public interface

    @property
    def port(self) -> int:
        return self.server_address[1]


class AgentHandler(BaseHTTPRequestHandler):
    server: AgentServer

    def log_message(self, format, *args):  # noqa: A002  (no personal data in request lines, but keep quiet)
        log.debug("agent: " + format, *args)

    def _cors(self) -> bool:
        origin = self.headers.get("Origin")
        if origin is None:
            return True  # not a browser cross-origin call (curl, tests)
        if origin.rstrip("/") != self.server.origin:
            return False
        self.send_header("Access-Control-Allow-Origin", origin)
        self.send_header("Vary", "Origin")
        return True

    def _reply(self, status: int, payload: dict) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode()
        self.send_response(status)
        self._cors()
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def do_OPTIONS(self):  # noqa: N802
        origin = self.headers.get("Origin", "").rstrip("/")
        if origin != self.server.origin:
            self.send_response(403)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(204)
        self.send_header("Access-Control-Allow-Origin", origin)
        self.send_header("Access-Control-Allow-Methods", "GET, POST")
        self.send_header("Access-Control-Allow-Headers", "Content-Type, X-Terminal-Token")
        self.send_header("Access-Control-Allow-Private-Network", "true")
        self.send_header("Access-Control-Max-Age", "600")
        self.send_header("Vary", "Origin")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _authorised(self) -> bool:
        origin = self.headers.get("Origin")
        if origin is not None and origin.rstrip("/") != self.server.origin:
            self._reply(403, {"error": "origin not allowed"})
            return False
        token = self.headers.get("X-Terminal-Token", "")
        if not hmac.compare_digest(token.encode(), self.server.token.encode()):
            self._reply(401, {"error": "not paired: enter the agent's pairing token"})
            return False
        return True

    def do_GET(self):  # noqa: N802
        if not self._authorised():
            return
        if self.path == "/status":
            self._run(self._status)
        else:
            self._reply(404, {"error": "not found"})

    def do_POST(self):  # noqa: N802
        if not self._authorised():
            return
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            self._reply(400, {"error": "body is not JSON"})
            return
        devices = self.server.devices
        routes = {
            "/read": lambda: read_card(devices.card()),
            "/write": lambda: (write_card(devices.card(), body), {"ok": True})[1],
            "/issue": lambda: issue_card(devices, body),
        }
        if devices.emulator:
            routes["/emulator/blank"] = lambda: {"chip_serial": devices.insert_blank()}
        if self.path not in routes:
            self._reply(404, {"error": "not found"})
            return
        self._run(routes[self.path])

    def _status(self) -> dict:
        devices = self.server.devices
        out = {"mode": "emulator" if devices.emulator else "pcsc", "sam": None, "card": None}
        sam = devices.sam()
        out["sam"] = {"serial": sam.serial(), "terminal_number": sam.terminal_number()}
        try:
            card = devices.card()
            out["card"] = {"chip_serial": card.chip_serial}
        except Exception:  # no card in the field: pyscard's NoCardException, a vpcd card powered off, ...
            out["card"] = None
        return out

    def _run(self, work) -> None:
        try:
            with self.server.devices.lock:
                result = work()
        except ItemError as exc:
            self._reply(400, {"error": str(exc), "item": exc.item})
        except ApduError as exc:
            self._reply(409, {"error": str(exc), "sw": f"{exc.sw:04X}"})
        except Exception as exc:  # a reader problem must reach the clerk, not kill the agent
            log.exception("agent request failed")
            self._reply(500, {"error": f"{type(exc).__name__}: {exc}"})
        else:
            self._reply(200, result)


def _readback(card: HealthCard) -> dict:
    return {key: card.read_file(key) for key in ("DDF1/EF05", "DDF1/EF06", "DDF1/EF08")}


def new_token() -> str:
    return secrets.token_urlsafe(16)


def start_agent(devices: Devices, *, origin: str, token: str | None = None, port: int = 0) -> AgentServer:
    server = AgentServer(devices, token=token or new_token(), origin=origin, port=port)
    threading.Thread(target=server.serve_forever, name="terminal-agent", daemon=True).start()
    return server


__all__ = ["AgentServer", "Devices", "layout", "start_agent"]
