"""The hospital API's view of registry's numbered, signed list (blacklist + whitelist): the current list number
and which subjects are on it, in bulk (a front-end server checks a thousand cards in one call)."""

from __future__ import annotations

try:
    from registry import lists as registry_lists
    from registry.choices import ListName

    BLACKLIST, WHITELIST = ListName.BLACKLIST, ListName.WHITELIST
except ImportError:  # registry's list lands with the lead's merge; until then nothing is listed
    registry_lists = None
    BLACKLIST, WHITELIST = "blacklist", "whitelist"

CARD_REASON_CODES = {  # list reason -> the status code the hospital API answers for a card entry
    "lost": "lost",
    "cancelled": "cancelled",
    "death": "cancelled",
    "replaced": "replaced",
    "manual": "blacklisted_card",
}


def blacklist_number() -> int:
    if registry_lists is None:
        return 0
    return registry_lists.list_number(ListName.BLACKLIST)


def card_subject(card_no: str, chip_serial: str) -> str:
    return (
        registry_lists.card_subject(card_no, chip_serial)
        if registry_lists
        else f"card:{card_no}:{chip_serial}"
    )


def person_subject(id_number: str) -> str:
    return registry_lists.person_subject(id_number) if registry_lists else f"person:{id_number}"


def current_reasons(subjects: list[str], *, list_name: str = BLACKLIST) -> dict[str, str]:
    """{subject: reason} for the subjects currently on the list. One query when registry offers the bulk
    selector, else one look-up per subject."""
    if not subjects or registry_lists is None:
        return {}
    bulk = getattr(registry_lists, "list_entries_current", None)
    if bulk is not None:
        return {entry.subject: entry.reason for entry in bulk(list_name=list_name, subjects=subjects)}
    found = {}
    for subject in dict.fromkeys(subjects):
        entry = registry_lists.list_entry_current(list_name=list_name, subject=subject)
        if entry is not None:
            found[subject] = entry.reason
    return found
