"""The card and person entries cards puts on registry's one numbered, signed list (registry.lists).

Called inside the calling action's transaction: every card that becomes ACTIVE goes on the whitelist, and
leaves it when it leaves ACTIVE; a lost card is a hold on the blacklist, a cancelled or replaced one a
permanent entry. Entries name the physical card (card number + chip serial), so a replacement card is never
blocked by its lost predecessor; labels are masked (the list carries no ID number in clear).
"""

from __future__ import annotations

from django.utils import timezone

from cards.models import Card, Resident
from registry.actors import Actor
from registry.choices import EntryType, ListName, ListReason
from registry.lists import card_subject, list_add, list_entry_current, list_remove, person_subject
from registry.protection import mask_id_number, mask_name


def card_label(card: Card) -> str:
    return f"{mask_id_number(card.card_no)} / {card.chip_serial or '-'}"


def card_list_subject(card: Card) -> str:
    return card_subject(card.card_no, card.chip_serial)


def card_whitelist(*, actor: Actor, card: Card) -> None:
    """The card is ACTIVE: sites that check offline accept it."""
    if not card.chip_serial:
        return  # a card without a chip cannot be presented
    list_add(
        list_name=ListName.WHITELIST,
        entry_type=EntryType.CARD,
        subject=card_list_subject(card),
        reason=ListReason.ACTIVE,
        region_code=card.region_id,
        label=card_label(card),
        object_ref=f"cards.card:{card.pk}",
        actor=actor,
    )


def card_unwhitelist(*, actor: Actor, card: Card, note: str = "") -> None:
    if card.chip_serial:
        list_remove(
            list_name=ListName.WHITELIST, subject=card_list_subject(card), actor=actor, note=note[:200]
        )


def card_blacklist(*, actor: Actor, card: Card, reason: str, note: str = ""):
    """Blacklist the physical card (reason: ListReason LOST / CANCELLED / REPLACED / DEATH / MANUAL)."""
    if not card.chip_serial:
        return None  # never personalised: no chip anyone could present
    return list_add(
        list_name=ListName.BLACKLIST,
        entry_type=EntryType.CARD,
        subject=card_list_subject(card),
        reason=reason,
        region_code=card.region_id,
        label=card_label(card),
        object_ref=f"cards.card:{card.pk}",
        actor=actor,
        note=note[:200],
    )


def card_unblacklist(*, actor: Actor, card: Card, note: str = "", allow_permanent: bool = False):
    if not card.chip_serial:
        return None
    return list_remove(
        list_name=ListName.BLACKLIST,
        subject=card_list_subject(card),
        actor=actor,
        note=note[:200],
        allow_permanent=allow_permanent,
    )


def card_blacklist_entry(card: Card):
    if not card.chip_serial:
        return None
    return list_entry_current(list_name=ListName.BLACKLIST, subject=card_list_subject(card))


def card_whitelist_entry(card: Card):
    if not card.chip_serial:
        return None
    return list_entry_current(list_name=ListName.WHITELIST, subject=card_list_subject(card))


def person_label(resident: Resident) -> str:
    return f"{mask_name(resident.name)} {mask_id_number(resident.document_number)}"


def person_list_subject(resident: Resident) -> str:
    return person_subject(resident.document_number)


def person_entry(resident: Resident):
    """The person's current blacklist entry, or None (an entry whose period is over no longer blocks)."""
    entry = list_entry_current(list_name=ListName.BLACKLIST, subject=person_list_subject(resident))
    if entry is None:
        return None
    until = getattr(entry, "valid_until", None)
    if until is not None and until < timezone.localdate():
        return None
    return entry
