"""Demo data of the terminals app (called by `manage.py seed_demo`; demo only, idempotent).

At the city node: one counter terminal at a landmark hospital, bound to the emulator's SAM (SAM0000001),
and three approved counter applications waiting for a card, so the terminal page with
`manage.py terminal_agent --emulator` (started by `make demo`) can issue, read and write cards.
"""

from __future__ import annotations

from django.conf import settings
from stdnum.cn import ric

from cards import actions as card_actions
from cards.choices import ApplicationChannel
from cards.models import Resident
from institutions.models import MedicalInstitution
from registry.protection import blind_index
from terminals import actions
from terminals.chip.emulator import VirtualSam
from terminals.choices import TerminalKind
from terminals.models import Terminal

DEMO_TERMINAL = "DEMO-COUNTER-01"
DEMO_HOLDERS = [
    ("610113", "19880312", "陈晓燕"),
    ("610113", "19920708", "刘建国"),
    ("610113", "20010115", "杨思远"),
]


def _id_number(county: str, born: str, sequence: int) -> str:
    body = f"{county}{born}{sequence:03d}"
    return body + ric.calc_check_digit(body + "0")


def seed(*, actor, stdout) -> str:
    if settings.HC_TIER != "city":
        return "nothing at this tier"
    hospital = MedicalInstitution.objects.filter(region_id="610113").order_by("pk").first()
    if hospital is None:
        return "no hospital in 610113: skipped"
    if not Terminal.objects.filter(serial=DEMO_TERMINAL).exists():
        actions.terminal_register(
            actor=actor,
            kind=TerminalKind.COUNTER,
            serial=DEMO_TERMINAL,
            institution=hospital,
            sam_serial=VirtualSam().serial,
        )
    created = 0
    for n, (county, born, name) in enumerate(DEMO_HOLDERS, start=901):
        number = _id_number(county, born, n)
        if Resident.objects.filter(document_index=blind_index(number, family="id_number")).exists():
            continue
        resident = card_actions.holder_register(actor=actor, document_number=number, name=name)
        card_actions.application_submit(actor=actor, resident=resident, channel=ApplicationChannel.COUNTER)
        created += 1
    return f"terminal {DEMO_TERMINAL} at {hospital.name}; {created} counter applications awaiting a card"
