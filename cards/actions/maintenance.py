"""Card maintenance (卡应用维护): loss report and its reversal, replacement, cancellation, the death registry,
manual blacklist entries of cards and persons, and what a hospital may change on a holder or a card.

Every action is keyword-only, takes the acting Actor, runs in one durable transaction with the card row locked,
and writes the case-history event, the audit row, the journal row and the list entries (registry.lists) in
that transaction. An action that starts from the wrong state names the card's state.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cards.actions.applications import ELIGIBILITY_RULES, application_create
from cards.actions.common import journal_card, record_event
from cards.actions.holders import holder_update
from cards.actions.issuance import _check_scope, _identity_mismatch_record, clean_chip_serial, identity_check
from cards.actions.lists import (
    card_blacklist,
    card_blacklist_entry,
    card_unblacklist,
    card_unwhitelist,
    card_whitelist,
    person_entry,
    person_label,
    person_list_subject,
)
from cards.actions.stock import _institution_fields
from cards.choices import (
    CARD_INFO_FIELDS,
    HOLDER_CONTACT_FIELDS,
    ApplicationChannel,
    CancellationReason,
    CardEventKind,
    CardStatus,
    DeathRecordStatus,
    DocumentType,
    ReplacementReason,
)
from cards.models import Card, DeathRecord, Resident
from cards.personalisation import CARD_VALIDITY_YEARS, add_years
from registry.actors import Actor
from registry.audit import audit_record
from registry.choices import EntryType, ListName, ListReason
from registry.errors import DomainError, PermissionDeniedError, require_reason
from registry.lifecycle import IllegalTransition, transition
from registry.lists import list_add, list_remove
from registry.models import Region
from registry.protection import blind_lookup, mask_id_number
from registry.scope import node_prefix, user_scope_prefix

C = CardStatus
CARD_SELECT = ("resident", "application", "medical_institution", "financial_institution")
CANCEL_LIST_REASON = {CancellationReason.DEATH: ListReason.DEATH}
REPLACE_CHANNEL = ApplicationChannel.COUNTER


# --- Shared steps -----------------------------------------------------------------------------------------


def _locked(card: Card, actor: Actor) -> Card:
    card = Card.objects.select_for_update(of=("self",)).select_related(*CARD_SELECT).get(pk=card.pk)
    _check_scope(actor, card.region_id, card)
    return card


def _require_state(card: Card, *, states: tuple, target: str) -> None:
    """Refuse unless the card is in one of `states`, naming its state and where it may go from there."""
    if card.status not in states:
        labels = dict(Card._meta.get_field("status").flatchoices)
        raise IllegalTransition(
            obj=card,
            current=card.status,
            target=target,
            allowed=Card.TRANSITIONS.allowed_from(card.status),
            labels=labels,
        )


def _document_type(value: str) -> str:
    if value not in DocumentType.values:
        raise DomainError(
            _("Unknown document type %(value)s."),
            {"value": value},
            code="invalid_document_type",
            detail={"field": "document_type"},
        )
    return value


def _identity(card: Card, *, actor: Actor, document_type: str, document_number: str, action: str) -> dict:
    """The holder's identity check (document type and number seen), compared through the blind index; a
    mismatch is refused and its refusal audited. The event keeps the type and the masked number."""
    _document_type(document_type)
    if not identity_check(card=card, document_type=document_type, document_number_seen=document_number):
        _identity_mismatch_record(
            actor=actor, card=card, document_type=document_type, by_guardian=False, action=f"{action}.refused"
        )
        raise DomainError(
            _("The document shown does not belong to the holder of card %(card)s."),
            {"card": card},
            code="identity_mismatch",
            detail={"field": "document_number"},
        )
    return {
        "document_type_seen": document_type,
        "document_number_seen": mask_id_number(document_number.strip()),
        "identity_matched": True,
    }


def _save(card: Card, fields: list[str]) -> None:
    card.save(update_fields=fields)
    journal_card(card)


def _event(actor, card, kind, *, reason="", data=None, institution=None):
    return record_event(
        actor=actor,
        resident=card.resident,
        card=card,
        kind=kind,
        reason=(reason or "")[:200],
        data=data or {},
        institution=institution,
    )


# --- Loss report (挂失) and its reversal (解挂) -------------------------------------------------------------


def card_report_loss(
    *, actor: Actor, card: Card, document_type: str, document_number: str, note: str = "", institution=None
) -> Card:
    """挂失: ACTIVE -> LOST. The physical card goes on the blacklist as a hold (reversible) and off the
    whitelist. The holder's identity is checked first; a mismatch is refused (and audited)."""
    current = Card.objects.select_related(*CARD_SELECT).get(pk=card.pk)
    _check_scope(actor, current.region_id, current)
    _require_state(current, states=(C.ACTIVE,), target=C.LOST)
    check = _identity(
        current, actor=actor, document_type=document_type, document_number=document_number, action="card.loss"
    )
    return _card_report_loss(actor=actor, card=current, check=check, note=note, institution=institution)


@transaction.atomic(durable=True)
def _card_report_loss(*, actor: Actor, card: Card, check: dict, note: str, institution) -> Card:
    card = _locked(card, actor)
    _require_state(card, states=(C.ACTIVE,), target=C.LOST)  # again, under the lock
    _save(card, transition(card, to=C.LOST))
    card_unwhitelist(actor=actor, card=card, note="loss")
    card_blacklist(actor=actor, card=card, reason=ListReason.LOST, note=note)
    audit_record(actor=actor, action="card.loss", target=card, reason=note, changes=check)
    _event(actor, card, CardEventKind.LOSS_REPORTED, reason=note, data=check, institution=institution)
    return card


def card_unreport_loss(
    *, actor: Actor, card: Card, document_type: str, document_number: str, note: str = "", institution=None
) -> Card:
    """解挂: LOST -> ACTIVE (the holder found the card). The hold is removed; back on the whitelist."""
    current = Card.objects.select_related(*CARD_SELECT).get(pk=card.pk)
    _check_scope(actor, current.region_id, current)
    _require_state(current, states=(C.LOST,), target=C.ACTIVE)
    check = _identity(
        current,
        actor=actor,
        document_type=document_type,
        document_number=document_number,
        action="card.unloss",
    )
    return _card_unreport_loss(actor=actor, card=current, check=check, note=note, institution=institution)


@transaction.atomic(durable=True)
def _card_unreport_loss(*, actor: Actor, card: Card, check: dict, note: str, institution) -> Card:
    card = _locked(card, actor)
    _require_state(card, states=(C.LOST,), target=C.ACTIVE)
    _save(card, transition(card, to=C.ACTIVE))
    card_unblacklist(actor=actor, card=card, note=note or "unloss")
    card_whitelist(actor=actor, card=card)
    audit_record(actor=actor, action="card.unloss", target=card, reason=note, changes=check)
    _event(actor, card, CardEventKind.LOSS_REVOKED, reason=note, data=check, institution=institution)
    return card


# --- Replacement (补换卡) ------------------------------------------------------------------------------------


@transaction.atomic(durable=True)
def card_replace(
    *, actor: Actor, card: Card, reason: str, note: str = "", new_chip_serial: str = "", institution=None
) -> Card:
    """补换卡: the old card -> REPLACED (a permanent blacklist entry), and a new card for the same holder.

    With `new_chip_serial` the new card was personalised on site (a hospital's or the counter's terminal) and
    is ACTIVE at once, on the whitelist. Without it, a replacement application enters the Cards I flow
    (approved, into the next production plan) and the card produced for it links back to the old one.
    Returns the new card, or the old one (now REPLACED) when the new card is still to be produced.
    """
    if reason not in ReplacementReason.values:
        raise DomainError(
            _("Unknown replacement reason %(value)s."),
            {"value": reason},
            code="invalid_reason",
            detail={"field": "reason"},
        )
    serial = clean_chip_serial(new_chip_serial) if new_chip_serial else ""
    old = _locked(card, actor)
    _require_state(old, states=(C.ACTIVE, C.LOST), target=C.REPLACED)
    if institution is not None:
        _check_scope(actor, institution.region_id, institution.name)
    if serial and Card.objects.filter(chip_serial=serial).exists():
        raise DomainError(
            _("Chip serial %(serial)s already belongs to another card."),
            {"serial": serial},
            code="chip_serial_in_use",
            detail={"field": "new_chip_serial"},
        )
    fields = transition(old, to=C.REPLACED)
    old.status_reason = reason
    _save(old, [*fields, "status_reason"])
    card_unwhitelist(actor=actor, card=old, note="replaced")
    card_blacklist(actor=actor, card=old, reason=ListReason.REPLACED, note=note)
    details = {"replacement_reason": reason}
    if serial:
        now = timezone.now()
        new = Card.objects.create(
            card_no=old.card_no,
            chip_serial=serial,
            resident=old.resident,
            replaces=old,
            status=C.ACTIVE,
            status_changed_at=now,
            region=institution.region if institution is not None else old.region,
            issued_at=now,
            collected_at=now,
            expires_on=add_years(timezone.localdate(now), CARD_VALIDITY_YEARS),
            created_at=now,
            **(_institution_fields(institution) if institution is not None else {}),
        )
        journal_card(new)
        card_whitelist(actor=actor, card=new)
        details.update(new_card_id=new.pk, new_chip_serial=serial)
        result = new
    else:
        application = application_create(
            actor=actor,
            resident=old.resident,
            channel=REPLACE_CHANNEL,
            institution=institution,
            note=str(_("Replacement of card %(card)s") % {"card": old})[:200],
            replaces=old,
        )
        details["application"] = application.number
        new, result = None, old
    audit_record(actor=actor, action="card.replace", target=old, reason=note, changes=details)
    _event(actor, old, CardEventKind.REPLACED, reason=note, data=details, institution=institution)
    if new is not None:
        _event(
            actor,
            new,
            CardEventKind.REPLACEMENT,
            reason=note,
            data={"replaces_card_id": old.pk, "replacement_reason": reason, "onsite": True},
            institution=institution,
        )
    return result


# --- Cancellation (注销) --------------------------------------------------------------------------------------

CANCELLABLE = (C.ACTIVE, C.LOST, C.ISSUING, C.IN_STOCK, C.AWAITING_COLLECTION)


def _cancel(*, actor: Actor, card: Card, reason: str, note: str, source: dict | None) -> Card:
    _require_state(card, states=CANCELLABLE, target=C.CANCELLED)
    fields = transition(card, to=C.CANCELLED)
    card.status_reason = reason
    _save(card, [*fields, "status_reason"])
    card_unwhitelist(actor=actor, card=card, note="cancelled")
    card_blacklist(
        actor=actor, card=card, reason=CANCEL_LIST_REASON.get(reason, ListReason.CANCELLED), note=note
    )
    data = {"cancellation_reason": reason}
    if source:
        data["source"] = source
    audit_record(actor=actor, action="card.cancel", target=card, reason=note, changes=data)
    _event(
        actor, card, CardEventKind.CANCELLED, reason=note or str(CancellationReason(reason).label), data=data
    )
    return card


@transaction.atomic(durable=True)
def card_cancel(*, actor: Actor, card: Card, reason: str, note: str = "", source: dict | None = None) -> Card:
    """注销 with a reason (death, the holder's request, duplicate, emigration, error): permanent. The physical
    card goes on the blacklist for good (reason DEATH for a death, else CANCELLED)."""
    if reason not in CancellationReason.values:
        raise DomainError(
            _("Unknown cancellation reason %(value)s."),
            {"value": reason},
            code="invalid_reason",
            detail={"field": "reason"},
        )
    if reason != CancellationReason.DEATH:
        note = require_reason(note)
    return _cancel(actor=actor, card=_locked(card, actor), reason=reason, note=note, source=source)


# --- The death registry ------------------------------------------------------------------------------------


def _actor_prefix(actor: Actor) -> str | None:
    return node_prefix() if actor.user is None else user_scope_prefix(actor.user)


def _receiving_region(actor: Actor) -> Region:
    prefix = _actor_prefix(actor) or node_prefix()
    return Region.objects.get(code=prefix.ljust(6, "0"))


def death_record_receive(
    *, actor: Actor, id_number: str, name: str, registry: str, record_id: str, died_on: dt.date
) -> tuple[DeathRecord, list[Card], bool]:
    """One record of the death registry, inside the caller's transaction: (record, cards cancelled, new?).

    Idempotent by (registry, record_id): a record already received does nothing. The holder is found by the
    ID number's blind index, within the actor's region; their active and lost cards are cancelled with reason
    DEATH and the record (registry, record id, date) stored on each cancellation event.
    """
    registry, record_id = (registry or "").strip(), (record_id or "").strip()
    id_number = (id_number or "").strip().upper()
    if not (registry and record_id and id_number):
        raise DomainError(
            _("A death record needs the registry, its record id and the ID number."), code="required"
        )
    existing = DeathRecord.objects.filter(registry=registry, record_id=record_id).first()
    if existing is not None:
        return existing, [], False
    prefix = _actor_prefix(actor)
    resident = (
        Resident.objects.filter(**blind_lookup(Resident, "document_number", id_number))
        .filter(region__code__startswith=prefix or "-")
        .order_by("id")
        .first()
    )
    source = {"registry": registry, "record_id": record_id, "died_on": died_on.isoformat()}
    cards = []
    if resident is not None:
        for card in (
            Card.objects.select_for_update(of=("self",))
            .select_related(*CARD_SELECT)
            .filter(resident=resident, status__in=(C.ACTIVE, C.LOST))
            .order_by("id")
        ):
            cards.append(
                _cancel(actor=actor, card=card, reason=CancellationReason.DEATH, note="", source=source)
            )
    status = (
        DeathRecordStatus.NO_MATCH
        if resident is None
        else DeathRecordStatus.APPLIED
        if cards
        else DeathRecordStatus.NO_CARD
    )
    record = DeathRecord.objects.create(
        registry=registry,
        record_id=record_id,
        id_number=id_number,
        name=(name or "").strip(),
        died_on=died_on,
        resident=resident,
        region=resident.region if resident is not None else _receiving_region(actor),
        status=status,
        cards_cancelled=len(cards),
        received_at=timezone.now(),
    )
    audit_record(
        actor=actor,
        action="death_record.apply",
        target=record,
        changes={**source, "status": status, "cards": [c.pk for c in cards]},
    )
    return record, cards, True


@transaction.atomic(durable=True)
def death_record_apply(
    *, actor: Actor, id_number: str, name: str, registry: str, record_id: str, died_on: dt.date
) -> list[Card]:
    """A death registry record (file or API): the holder's active and lost cards are cancelled (reason
    DEATH, the record on the event). A record already received cancels nothing again."""
    _record, cards, _new = death_record_receive(
        actor=actor, id_number=id_number, name=name, registry=registry, record_id=record_id, died_on=died_on
    )
    return cards


@transaction.atomic(durable=True)
def death_record_import_batch(rows: list[dict], *, actor: Actor) -> tuple[int, int]:
    """The death import's bulk action (registry.imports): one transaction per batch; (new records, 0)."""
    created = 0
    for row in rows:
        _record, _cards, new = death_record_receive(
            actor=actor,
            id_number=row["id_number"],
            name=row.get("name", ""),
            registry=row["registry"],
            record_id=row["record_id"],
            died_on=row["died_on"],
        )
        created += new
    return created, 0


@transaction.atomic(durable=True)
def death_record_correct(*, actor: Actor, card: Card, note: str) -> Card:
    """A wrong death record: the card cancelled for it is ACTIVE again, its permanent blacklist entry removed
    (the only removal of a permanent entry), back on the whitelist; the note says why. Needs the permission
    cards.correct_deathrecord."""
    note = require_reason(note)
    if actor.user is not None and not actor.user.has_perm("cards.correct_deathrecord"):
        raise PermissionDeniedError(_("You are not allowed to correct death records."))
    card = _locked(card, actor)
    if card.status != C.CANCELLED or card.status_reason != CancellationReason.DEATH:
        raise DomainError(
            _("Card %(card)s is “%(status)s”, not cancelled for a death: there is nothing to correct."),
            {"card": card, "status": CardStatus(card.status).label},
            code="not_cancelled_for_death",
            detail={"current": card.status},
        )
    if Card.objects.filter(resident=card.resident_id, status__in=(C.ACTIVE, C.LOST)).exists():
        raise DomainError(
            _("The holder already has another card in hand: the cancelled card is not restored."),
            code="already_holds_card",
        )
    fields = transition(card, to=C.ACTIVE)
    card.status_reason = ""
    _save(card, [*fields, "status_reason"])
    card_unblacklist(actor=actor, card=card, note=note, allow_permanent=True)
    card_whitelist(actor=actor, card=card)
    records = []
    for record in DeathRecord.objects.select_for_update().filter(
        resident=card.resident_id, status=DeathRecordStatus.APPLIED
    ):
        record.status, record.corrected_at, record.correction_note = (
            DeathRecordStatus.CORRECTED,
            timezone.now(),
            note[:200],
        )
        record.save(update_fields=["status", "corrected_at", "correction_note"])
        records.append({"registry": record.registry, "record_id": record.record_id})
    data = {"death_records": records}
    audit_record(actor=actor, action="card.death_correct", target=card, reason=note, changes=data)
    _event(actor, card, CardEventKind.RESTORED, reason=note, data=data)
    return card


# --- Manual blacklist entries ------------------------------------------------------------------------------


@transaction.atomic(durable=True)
def card_blacklist_add(*, actor: Actor, card: Card, note: str) -> Card:
    """A clerk blacklists a physical card by hand (e.g. reported misused); the note is mandatory."""
    note = require_reason(note)
    card = _locked(card, actor)
    if not card.chip_serial:
        raise DomainError(
            _("Card %(card)s has no chip yet: there is nothing to blacklist."),
            {"card": card},
            code="no_chip",
        )
    current = card_blacklist_entry(card)
    if current is not None:
        raise DomainError(
            _("Card %(card)s is already on the blacklist (%(reason)s)."),
            {"card": card, "reason": ListReason(current.reason).label},
            code="already_blacklisted",
        )
    card_unwhitelist(actor=actor, card=card, note="manual blacklist")
    card_blacklist(actor=actor, card=card, reason=ListReason.MANUAL, note=note)
    audit_record(actor=actor, action="card.blacklist_add", target=card, reason=note)
    _event(actor, card, CardEventKind.BLACKLISTED, reason=note, data={"manual": True})
    return card


@transaction.atomic(durable=True)
def card_blacklist_remove(*, actor: Actor, card: Card, note: str) -> Card:
    """Take a clerk's manual card entry off the blacklist (mandatory note). Holds and permanent entries
    follow the card's state: a hold goes with unloss, permanent entries stay."""
    note = require_reason(note)
    card = _locked(card, actor)
    current = card_blacklist_entry(card)
    if current is None or current.reason != ListReason.MANUAL:
        raise DomainError(
            _("Card %(card)s has no manual blacklist entry to remove (its state is “%(status)s”)."),
            {"card": card, "status": CardStatus(card.status).label},
            code="no_manual_entry",
        )
    card_unblacklist(actor=actor, card=card, note=note)
    if card.status == C.ACTIVE:
        card_whitelist(actor=actor, card=card)
    audit_record(actor=actor, action="card.blacklist_remove", target=card, reason=note)
    _event(actor, card, CardEventKind.UNBLACKLISTED, reason=note, data={"manual": True})
    return card


@transaction.atomic(durable=True)
def person_blacklist_add(
    *, actor: Actor, resident: Resident, reason: str, valid_until: dt.date | None = None
):
    """A person not eligible to hold or use a card (with reason, period, who decided): they cannot apply, and
    a hospital refuses their cards. Returns the list entry."""
    reason = require_reason(reason)
    resident = Resident.objects.select_for_update().get(pk=resident.pk)
    _check_scope(actor, resident.region_id, resident)
    if valid_until is not None and valid_until < timezone.localdate():
        raise DomainError(
            _("The period ends in the past."), code="invalid_period", detail={"field": "valid_until"}
        )
    entry = list_add(
        list_name=ListName.BLACKLIST,
        entry_type=EntryType.PERSON,
        subject=person_list_subject(resident),
        reason=ListReason.INELIGIBLE,
        region_code=resident.region_id,
        label=person_label(resident),
        object_ref=f"cards.resident:{resident.pk}",
        actor=actor,
        note=reason[:200],
        valid_until=valid_until,
    )
    data = {"valid_until": valid_until.isoformat() if valid_until else "", "decided_by": actor.display}
    audit_record(actor=actor, action="holder.blacklist_add", target=resident, reason=reason, changes=data)
    record_event(
        actor=actor, resident=resident, kind=CardEventKind.PERSON_BLACKLISTED, reason=reason[:200], data=data
    )
    return entry


@transaction.atomic(durable=True)
def person_blacklist_remove(*, actor: Actor, resident: Resident, reason: str):
    reason = require_reason(reason)
    resident = Resident.objects.select_for_update().get(pk=resident.pk)
    _check_scope(actor, resident.region_id, resident)
    entry = list_remove(
        list_name=ListName.BLACKLIST, subject=person_list_subject(resident), actor=actor, note=reason[:200]
    )
    if entry is None:
        raise DomainError(
            _("%(holder)s is not on the blacklist."), {"holder": resident}, code="not_blacklisted"
        )
    audit_record(actor=actor, action="holder.blacklist_remove", target=resident, reason=reason)
    record_event(actor=actor, resident=resident, kind=CardEventKind.PERSON_UNBLACKLISTED, reason=reason[:200])
    return entry


def person_blacklist_rule(resident: Resident) -> DomainError | None:
    """cards.actions.applications.ELIGIBILITY_RULES: a blacklisted person cannot apply."""
    entry = person_entry(resident)
    if entry is None:
        return None
    return DomainError(
        _("%(holder)s is on the blacklist (%(note)s) and cannot apply for a card."),
        {"holder": resident, "note": entry.note or ListReason(entry.reason).label},
        code="person_blacklisted",
    )


if person_blacklist_rule not in ELIGIBILITY_RULES:
    ELIGIBILITY_RULES.append(person_blacklist_rule)


# --- What a hospital or bank may change -------------------------------------------------------------------


def holder_contacts_update(*, actor: Actor, resident: Resident, changes: dict) -> Resident:
    """A hospital or bank updates a holder's phones, addresses and emergency contacts; never identity."""
    refused = sorted(set(changes) - set(HOLDER_CONTACT_FIELDS))
    if refused:
        raise DomainError(
            _("Only phones, addresses and emergency contacts may be changed here, not: %(fields)s."),
            {"fields": ", ".join(refused)},
            code="field_not_editable",
            detail={"fields": refused},
        )
    return holder_update(actor=actor, resident=resident, reason="contacts", **changes)


@transaction.atomic(durable=True)
def card_info_update(*, actor: Actor, card: Card, changes: dict) -> Card:
    """A hospital changes what it may on a card (CARD_INFO_FIELDS; never number, chip or state)."""
    refused = sorted(set(changes) - set(CARD_INFO_FIELDS))
    if refused:
        raise DomainError(
            _("These card fields cannot be changed here: %(fields)s."),
            {"fields": ", ".join(refused)},
            code="field_not_editable",
            detail={"fields": refused},
        )
    card = _locked(card, actor)
    _require_state(card, states=Card.IN_HAND, target=card.status)
    changed = {}
    for field, value in changes.items():
        if field == "expires_on" and isinstance(value, str):
            value = dt.date.fromisoformat(value)
        if getattr(card, field) != value:
            setattr(card, field, value)
            changed[field] = value.isoformat() if hasattr(value, "isoformat") else value
    if not changed:
        return card
    _save(card, list(changed))
    audit_record(actor=actor, action="card.info_update", target=card, changes=changed)
    _event(actor, card, CardEventKind.CARD_CHANGED, data=changed)
    return card


# --- Bringing the lists in line with the cards ---------------------------------------------------------------

LIST_BY_STATE = {
    C.LOST: ListReason.LOST,
    C.REPLACED: ListReason.REPLACED,
}
SYNC_BATCH = 1000


def card_lists_sync(*, actor: Actor) -> int:
    """Put every card on the list its state calls for (cards that became active before the lists existed, a
    node upgraded from Cards I): ACTIVE on the whitelist, LOST a hold, REPLACED / CANCELLED permanent.
    Idempotent (an entry already there with the same reason takes no number); one transaction per batch.
    Returns how many cards were looked at."""
    ids = list(
        Card.objects.exclude(chip_serial="")
        .filter(status__in=(C.ACTIVE, C.LOST, C.REPLACED, C.CANCELLED))
        .order_by("id")
        .values_list("id", flat=True)
    )
    for start in range(0, len(ids), SYNC_BATCH):
        with transaction.atomic(durable=True):
            for card in Card.objects.filter(pk__in=ids[start : start + SYNC_BATCH]).order_by("id"):
                if card.status == C.ACTIVE:
                    if card_blacklist_entry(card) is None:  # a manual entry keeps it off the whitelist
                        card_whitelist(actor=actor, card=card)
                    continue
                card_unwhitelist(actor=actor, card=card, note="sync")
                reason = LIST_BY_STATE.get(card.status) or CANCEL_LIST_REASON.get(
                    card.status_reason, ListReason.CANCELLED
                )
                card_blacklist(actor=actor, card=card, reason=reason)
    return len(ids)
