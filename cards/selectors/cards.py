"""Scoped reads of the cards app: cards, the collected / uncollected lists, and the case history."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from cards.actions.issuance import ONSITE_CHANNELS
from cards.choices import ApplicationStatus, CardStatus
from cards.filtersets.cards import CardFilterSet, Collection
from cards.models import Application, Card, CardEvent, Resident
from registry.protection import blind_index
from registry.scope import scope_queryset

CARD_RELATED = ("resident", "region", "application", "medical_institution", "financial_institution")


def card_list(*, user, filters: dict | None = None) -> QuerySet[Card]:
    queryset = scope_queryset(Card.objects.select_related(*CARD_RELATED), user)
    return CardFilterSet(filters or {}, queryset=queryset).qs


def card_collected_list(*, user, filters: dict | None = None) -> QuerySet[Card]:
    return card_list(user=user, filters={**(filters or {}), "collection": Collection.COLLECTED})


def card_uncollected_list(*, user, filters: dict | None = None) -> QuerySet[Card]:
    return card_list(user=user, filters={**(filters or {}), "collection": Collection.UNCOLLECTED})


def cards_to_collect(*, user, resident: Resident) -> QuerySet[Card]:
    """The holder's cards waiting at an issuing point in the user's scope (what the clerk hands over)."""
    return card_list(user=user).filter(resident=resident, status=CardStatus.AWAITING_COLLECTION)


def onsite_candidates(*, user, resident: Resident) -> dict:
    """What the on-site issuance page offers for a holder: approved applications that may be issued on the
    spot, and cards allocated but not yet written (ISSUING)."""
    applications = scope_queryset(
        Application.objects.select_related("medical_institution", "financial_institution"), user
    ).filter(resident=resident, status=ApplicationStatus.APPROVED, channel__in=ONSITE_CHANNELS)
    issuing = card_list(user=user).filter(resident=resident, status=CardStatus.ISSUING)
    return {"applications": applications, "issuing": issuing}


EVENT_RELATED = ("card", "application", "user")


def card_history(*, card: Card) -> QuerySet[CardEvent]:
    """The complete case history behind one card: its own events and every event of its holder's
    applications (the application, the reviews, the plan, an aborted on-site attempt), oldest first."""
    return (
        CardEvent.objects.filter(Q(card=card) | Q(application__resident_id=card.resident_id))
        .select_related(*EVENT_RELATED)
        .order_by("at", "id")
    )


def holder_history(*, resident: Resident) -> QuerySet[CardEvent]:
    """Everything that happened to a holder: registration, changes, applications, every card, oldest first."""
    return CardEvent.objects.filter(resident=resident).select_related(*EVENT_RELATED).order_by("at", "id")


# --- Cards II: finding a card, and the case history across linked cards -----------------------------------

IN_HAND_FIRST = (CardStatus.ACTIVE, CardStatus.LOST)


def card_find(*, card_no: str, chip_serial: str = "") -> Card | None:
    """The card a reader or a partner names (card number, optionally the chip serial), found through the
    blind index. Unscoped: for the hospital API and the exchange, which scope by their own credentials.
    Without a chip serial, the card in the holder's hand wins, then the newest."""
    number = (card_no or "").strip().upper()
    if not number:
        return None
    cards = Card.objects.select_related(*CARD_RELATED).filter(
        card_index=blind_index(number, family="id_number")
    )
    serial = (chip_serial or "").strip().upper()
    if serial:
        return cards.filter(chip_serial=serial).first()
    found = list(cards.order_by("-id"))
    return next((c for c in found if c.status in IN_HAND_FIRST), found[0] if found else None)


def linked_card_ids(card: Card) -> list[int]:
    """The card and every card linked to it by replacement, before and after (one holder's chain)."""
    links = list(Card.objects.filter(resident_id=card.resident_id).values_list("id", "replaces_id"))
    chain, changed = {card.pk}, True
    while changed:
        changed = False
        for pk, replaces in links:
            if pk in chain and replaces and replaces not in chain:
                chain.add(replaces)
                changed = True
            elif replaces in chain and pk not in chain:
                chain.add(pk)
                changed = True
    return sorted(chain)


def card_timeline(*, card: Card) -> QuerySet[CardEvent]:
    """The complete, continuous case history of a card: its own events, those of the cards it replaced and
    that replaced it, and the events of its holder's applications, oldest first."""
    return (
        CardEvent.objects.filter(
            Q(card_id__in=linked_card_ids(card))
            | Q(application__resident_id=card.resident_id, card__isnull=True)
        )
        .select_related(*EVENT_RELATED)
        .order_by("at", "id")
    )


def person_timeline(*, resident: Resident) -> QuerySet[CardEvent]:
    """Everything that happened to a person across all their cards (old and new linked), oldest first."""
    return holder_history(resident=resident)
