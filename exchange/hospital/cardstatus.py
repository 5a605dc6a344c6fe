"""The card check every hospital makes at every visit: what state is this physical card (card number + chip
serial) in here, checked against the current blacklist. One query for the cards, one for the list entries,
however many pairs are asked (verify-batch checks a thousand at once)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cards.actions.holders import clean_id_number
from cards.choices import CardStatus
from cards.models import Card
from exchange.hospital import lists
from registry.errors import DomainError
from registry.protection import blind_index

ID_FAMILY = "id_number"
C = CardStatus


class Code:
    """The answers, stable and documented (docs/hospital-api.md): one per distinct situation."""

    ACTIVE = "active"
    EXPIRED = "expired"
    NOT_ISSUED = "not_issued"
    LOST = "lost"
    CANCELLED = "cancelled"
    REPLACED = "replaced"
    BLACKLISTED_CARD = "blacklisted_card"
    BLACKLISTED_PERSON = "blacklisted_person"
    UNKNOWN_HERE = "unknown_here"
    INVALID = "invalid"


MESSAGES = {
    Code.ACTIVE: _("The card is active: it may be used."),
    Code.EXPIRED: _("The card has passed its expiry date: ask the holder to renew it."),
    Code.NOT_ISSUED: _("The card has not been handed to its holder yet: it may not be used."),
    Code.LOST: _("The card was reported lost (on hold): it may not be used until the loss is revoked."),
    Code.CANCELLED: _("The card is cancelled: it may not be used."),
    Code.REPLACED: _("The card was replaced by a newer card: only the new card may be used."),
    Code.BLACKLISTED_CARD: _("The card is on the blacklist: it may not be used."),
    Code.BLACKLISTED_PERSON: _("The holder is on the blacklist: the card may not be used."),
    Code.UNKNOWN_HERE: _(
        "This card is not known on this node (it may not have synced yet): check again later."
    ),
    Code.INVALID: _("The card number is not a valid resident ID number."),
}
USABLE = {Code.ACTIVE}
STATUS_CODES = {
    C.ACTIVE: Code.ACTIVE,
    C.LOST: Code.LOST,
    C.CANCELLED: Code.CANCELLED,
    C.REPLACED: Code.REPLACED,
    C.ISSUING: Code.NOT_ISSUED,
    C.IN_STOCK: Code.NOT_ISSUED,
    C.DISPATCHED: Code.NOT_ISSUED,
    C.AWAITING_COLLECTION: Code.NOT_ISSUED,
}
PERMANENT = {Code.CANCELLED, Code.REPLACED}
SEPARATORS = re.compile(r"[\s:-]+")


@dataclass(frozen=True, slots=True)
class CardCheck:
    card_no: str
    chip: str
    code: str
    card_status: str | None = None
    status_since: object = None
    expires_on: object = None

    @property
    def usable(self) -> bool:
        return self.code in USABLE


def normal_card_no(value: str) -> str:
    return (value or "").strip().upper()


def normal_chip(value: str) -> str:
    return SEPARATORS.sub("", value or "").upper()


def _valid_id_number(card_no: str) -> bool:
    try:
        clean_id_number(card_no)
    except DomainError:
        return False
    return True


def card_status_check(pairs: list[tuple[str, str]]) -> list[CardCheck]:
    """One CardCheck per (card number, chip serial) pair, in order. An empty chip means "the holder's card"."""
    pairs = [(normal_card_no(card_no), normal_chip(chip)) for card_no, chip in pairs]
    index_of = {card_no: blind_index(card_no, family=ID_FAMILY) for card_no, _chip in pairs if card_no}
    cards: dict[str, list[tuple]] = {}
    rows = Card.objects.filter(card_index__in=set(index_of.values())).values_list(
        "card_index", "chip_serial", "status", "status_changed_at", "expires_on", "id"
    )
    for row in rows:
        cards.setdefault(row[0], []).append(row)
    subjects = []
    for card_no, chip in pairs:
        if card_no:
            subjects.append(lists.person_subject(card_no))
            if chip:
                subjects.append(lists.card_subject(card_no, chip))
    listed = lists.current_reasons(subjects)
    today = timezone.localdate()
    return [
        _check(card_no, chip, cards.get(index_of.get(card_no), ()), listed, today) for card_no, chip in pairs
    ]


def _pick(candidates, chip: str):
    if chip:
        return next((row for row in candidates if row[1] == chip), None)
    # No chip given: the holder's card in hand, else the newest.
    in_hand = [row for row in candidates if row[2] in Card.IN_HAND]
    return max(in_hand or candidates, key=lambda row: row[5], default=None)


def _check(card_no: str, chip: str, candidates, listed: dict, today) -> CardCheck:
    if not card_no:
        return CardCheck(card_no, chip, Code.INVALID)
    row = _pick(candidates, chip)
    person_listed = lists.person_subject(card_no) in listed  # (a keyed hash: cheap to compute twice)
    card_reason = listed.get(lists.card_subject(card_no, chip)) if chip else None
    if row is None:
        if card_reason:
            return CardCheck(card_no, chip, lists.CARD_REASON_CODES.get(card_reason, Code.BLACKLISTED_CARD))
        if person_listed:
            return CardCheck(card_no, chip, Code.BLACKLISTED_PERSON)
        if not candidates and not _valid_id_number(card_no):
            return CardCheck(card_no, chip, Code.INVALID)
        return CardCheck(card_no, chip, Code.UNKNOWN_HERE)
    _index, serial, status, since, expires_on, _pk = row
    code = STATUS_CODES.get(status, Code.UNKNOWN_HERE)
    if code not in PERMANENT:
        if person_listed:
            code = Code.BLACKLISTED_PERSON
        elif card_reason and code == Code.ACTIVE:
            code = lists.CARD_REASON_CODES.get(card_reason, Code.BLACKLISTED_CARD)
        elif code == Code.ACTIVE and expires_on is not None and expires_on < today:
            code = Code.EXPIRED
    return CardCheck(card_no, serial or chip, code, status, since, expires_on)
