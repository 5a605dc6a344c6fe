"""Read side of the terminals app: what the chip of a card must hold, the server's view of a card read at
the counter (masked, with flags), terminal lists."""

from __future__ import annotations

from django.utils import timezone

from cards.choices import CardStatus
from cards.models import Card
from registry.choices import ListName
from registry.lists import card_subject, list_entry_current
from registry.protection import blind_index, mask_id_number, mask_name
from terminals.models import Terminal

# Card states that must be flagged before anything is written to the chip.
BLOCKING = {CardStatus.LOST, CardStatus.CANCELLED, CardStatus.REPLACED}
CARD_TYPE_RESIDENT = "1"
SPEC_VERSION = "0100"


def terminal_list(*, user=None):
    from registry.scope import scope_queryset

    qs = Terminal.objects.select_related("region", "medical_institution", "financial_institution")
    return scope_queryset(qs, user) if user is not None else qs


def card_personalisation(*, card: Card) -> dict:
    """Issuer, holder and card data for DDF1/EF05, EF06, EF08 (item names of terminals.chip.layout)."""
    resident = card.resident
    region = card.region
    expiry = card.expires_on
    if expiry is None:
        from cards.personalisation import CARD_VALIDITY_YEARS, add_years

        expiry = add_years(timezone.localdate(), CARD_VALIDITY_YEARS)
    return {
        "issuer": {
            "card_type": CARD_TYPE_RESIDENT,
            "spec_version": SPEC_VERSION,
            "issuer_name": region.name[:15],
            "issuer_code": (region.code + "00000")[:11],
            "issue_date": timezone.localdate().strftime("%Y%m%d"),
            "card_no": card.card_no,
            "city_code": region.code[:6].ljust(6, "0"),
        },
        "holder": {
            "name": resident.name,
            "sex": int(resident.sex) if str(resident.sex).isdigit() else 0,
            "ethnicity": resident.ethnicity or "",
            "birth_date": resident.birth_date.strftime("%Y%m%d"),
            "id_number": resident.document_number,
        },
        "card": {"expiry": expiry.strftime("%Y%m%d")},
    }


def readback_mismatches(*, expected: dict, readback: dict) -> list[str]:
    """Item names whose read-back differs from what was to be written (issue date may roll over midnight)."""
    problems = []
    files = {"issuer": "DDF1/EF05", "holder": "DDF1/EF06", "card": "DDF1/EF08"}
    for group, key in files.items():
        back = readback.get(key) or {}
        for name, value in expected[group].items():
            if name == "issue_date":
                continue
            if str(back.get(name)) != str(value):
                problems.append(name)
    return problems


def card_state(*, card_no: str) -> dict | None:
    """The server's view of the card a terminal read: masked holder, status, flags. None if unknown."""
    card = (
        Card.objects.filter(card_index=blind_index(card_no, family="id_number"))
        .select_related("resident")
        .order_by("-pk")
        .first()
    )
    if card is None:
        return None
    flags = []
    if card.status in BLOCKING:
        flags.append(card.status)
    blacklisted = _card_blacklisted(card)
    if blacklisted:
        flags.append("blacklisted")
    return {
        "id": card.pk,
        "card_no": mask_id_number(card.card_no),
        "holder": mask_name(card.resident.name),
        "status": card.status,
        "status_label": str(CardStatus(card.status).label),
        "chip_serial": card.chip_serial,
        "flags": flags,
        "writable": card.status == CardStatus.ACTIVE and not flags,
    }


def _card_blacklisted(card: Card) -> bool:
    subject = card_subject(card.card_no, card.chip_serial)
    return list_entry_current(list_name=ListName.BLACKLIST, subject=subject) is not None
