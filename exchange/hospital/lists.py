"""The hospital API's view of registry's numbered, signed list (blacklist + whitelist): the current list number
and which subjects are on it, in bulk (a front-end server checks a thousand cards in one call)."""

from __future__ import annotations

from registry.choices import ListName, ListReason
from registry.lists import _counter as counter_name  # noqa: F401  (the list number's counter: cardstatus reads it)
from registry.lists import (  # noqa: F401  (re-exported for views and cardstatus)
    card_subject,
    card_subjects,
    list_number,
    person_subject,
    person_subjects,
)
from registry.models import ListEntry

BLACKLIST, WHITELIST = ListName.BLACKLIST, ListName.WHITELIST
CARD_REASON_CODES = {  # list reason of a card entry -> the status code the hospital API answers
    ListReason.LOST: "lost",
    ListReason.CANCELLED: "cancelled",
    ListReason.DEATH: "cancelled",
    ListReason.REPLACED: "replaced",
    ListReason.MANUAL: "blacklisted_card",
}


def blacklist_number() -> int:
    return list_number(BLACKLIST)


def current_reasons(subjects: list[int], *, list_name: str = BLACKLIST) -> dict[int, str]:
    """{subject: reason} for the subjects currently on the list, in one query."""
    if not subjects:
        return {}
    return dict(
        ListEntry.objects.filter(
            list_name=list_name, subject__in=set(subjects), removed_number__isnull=True
        ).values_list("subject", "reason")
    )
