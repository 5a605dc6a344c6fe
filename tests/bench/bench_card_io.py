"""Benchmark: a whole card through the chip stack. Not a test.

    .venv/bin/python tests/bench/bench_card_io.py [rounds]

Times personalising a blank card, reading every file group back (read_all) and appending an immunisation,
in process (the emulator called directly) and, when pcscd with the vpcd readers is up, through PC/SC
(pyscard -> pcscd -> vpcd -> the emulator over TCP): the difference is what the reader path costs.
Prints milliseconds per operation and APDUs per operation.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from terminals.chip.apdu import Channel  # noqa: E402
from terminals.chip.emulator import VirtualHealthCard, VirtualSam  # noqa: E402
from terminals.chip.operations import HealthCard, Sam  # noqa: E402
from terminals.chip.transport import InProcessTransport  # noqa: E402

ISSUER = {"card_type": "1", "spec_version": "0100", "issuer_name": "演示", "card_no": "610102199001011234",
          "city_code": "610100"}  # fmt: skip
HOLDER = {
    "name": "张三",
    "sex": 1,
    "ethnicity": "01",
    "birth_date": "19900101",
    "id_number": "610102199001011234",
}


def run(card_t, sam_t, rounds: int, label: str) -> dict:
    sam_t.connect()
    trace: list = []
    sam = Sam(Channel(sam_t))
    sam.verify_pin(b"\x12\x34\x56")
    figures = {}
    for name in ("personalise", "read_all", "add_immunisation"):
        start, apdus = time.perf_counter(), len(trace)
        for _ in range(rounds):
            card = HealthCard(Channel(card_t, trace=trace), sam, card_t.connect(), city_code="610100")
            if name == "personalise":
                card.personalise(issuer=ISSUER, holder=HOLDER, card={"expiry": "20361121"})
            elif name == "read_all":
                card.read_all()
            else:
                card.add_immunisation(vaccine="乙肝疫苗", date="20261121")
        ms = (time.perf_counter() - start) * 1000 / rounds
        figures[name] = ms
        print(f"{label:10} {name:18} {ms:8.1f} ms/op  {(len(trace) - apdus) / rounds:6.0f} card APDUs/op")  # noqa: T201
    return figures


def main(rounds: int = 20, *, pcsc_too: bool = True) -> dict:
    card = VirtualHealthCard()
    out = {
        "in_process": run(InProcessTransport(card), InProcessTransport(VirtualSam()), rounds, "in-process")
    }
    try:
        from terminals.chip import pcsc
        from terminals.chip.vpcd import SAM_PORT, VpcdCard

        readers = [n for n in pcsc.list_readers() if "Virtual PCD" in n]
    except Exception as exc:  # no pyscard / no pcscd: the in-process figures are still worth printing
        print(f"PC/SC skipped: {exc}")  # noqa: T201
        return out
    if len(readers) < 2:
        print("PC/SC skipped: no vpcd readers")  # noqa: T201
        return out
    attached = [VpcdCard(VirtualHealthCard()).start(), VpcdCard(VirtualSam(), port=SAM_PORT).start()]
    try:
        card_reader, sam_reader = pcsc.find_reader("Virtual PCD 00 00"), pcsc.find_reader("Virtual PCD 00 01")
        for reader in (card_reader, sam_reader):
            pcsc.wait_for_card(reader, timeout=10)
        out["pcsc"] = run(pcsc.PcscTransport(card_reader), pcsc.PcscTransport(sam_reader), rounds, "pc/sc")
    finally:
        for a in attached:
            a.stop()
    return out


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
