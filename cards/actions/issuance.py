"""Issuance: collection of a produced card (领卡) with the identity check, and on-site instant issuance (即时发卡).

Collection: the clerk finds the card by its holder, checks the identity document shown (compared through
the blind index, never stored), and the card becomes active in the holder's hand. On-site issuance: an
approved counter / kiosk / on-site application gets a card allocated (ISSUING), the Terminals issue writes
the chip, and the chip serial it reports completes the card (ACTIVE, collected on the spot) — or the
attempt is aborted (CANCELLED) and the application stays approved for the next blank card.
"""

from __future__ import annotations

import hmac
import re

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cards.actions.applications import CARD_HELD_STATUSES
from cards.actions.common import journal_application, journal_card, record_event
from cards.actions.lists import card_whitelist
from cards.choices import (
    ApplicantKind,
    ApplicationChannel,
    ApplicationStatus,
    CardEventKind,
    CardStatus,
    DocumentType,
)
from cards.models import Application, Card
from cards.personalisation import CARD_VALIDITY_YEARS, CHIP_SERIAL_RE, add_years
from institutions.choices import OrganisationStatus
from institutions.models import FinancialInstitution, MedicalInstitution
from registry.actors import Actor
from registry.audit import audit_record
from registry.errors import DomainError, require_reason
from registry.lifecycle import transition
from registry.protection import blind_index
from registry.scope import user_can_see_region

C = CardStatus
# Channels whose approved applications may be issued on the spot (the Terminals issue writes the chip).
ONSITE_CHANNELS = (ApplicationChannel.COUNTER, ApplicationChannel.KIOSK, ApplicationChannel.ONSITE)
# A citizen's household register (户口簿) carries the same citizen ID number as the ID card, so either
# document proves the identity of an ID-card holder (children often have only the household register).
SAME_NUMBER_DOCUMENTS = {DocumentType.ID_CARD, DocumentType.HOUSEHOLD}
ID_FAMILY = "id_number"


def _check_scope(actor: Actor, region_code: str, subject) -> None:
    if actor.user is not None and not user_can_see_region(actor.user, region_code):
        raise DomainError(_("%(object)s is outside your region."), {"object": subject}, code="out_of_scope")


def _documents_agree(type_seen: str, type_expected: str) -> bool:
    if type_seen == type_expected:
        return True
    return {type_seen, type_expected} <= SAME_NUMBER_DOCUMENTS


def _same_number(seen: str, expected_index: str) -> bool:
    return bool(expected_index) and hmac.compare_digest(blind_index(seen, family=ID_FAMILY), expected_index)


def identity_check(
    *, card: Card, document_type: str, document_number_seen: str, by_guardian: bool = False
) -> bool:
    """Does the document shown belong to the holder (or, when a guardian collects, to the guardian recorded on
    the application)? Compared through the keyed blind index; the number seen is never stored or logged."""
    seen = (document_number_seen or "").strip()
    if not seen:
        return False
    if not by_guardian:
        resident = card.resident
        return _documents_agree(document_type, resident.document_type) and _same_number(
            seen, resident.document_index
        )
    application = card.application
    if application is None or application.applicant_kind != ApplicantKind.GUARDIAN:
        return False
    guardian_number = application.guardian_document_number or ""
    if not guardian_number:
        return False
    expected = blind_index(guardian_number, family=ID_FAMILY)
    return _documents_agree(document_type, application.guardian_document_type or DocumentType.ID_CARD) and (
        _same_number(seen, expected)
    )


def _check_collectable(card: Card) -> None:
    if card.status == C.ISSUING:
        raise DomainError(
            _("Card %(card)s is being issued on site: complete or abort the on-site issuance instead."),
            {"card": card},
            code="onsite_in_progress",
        )
    if card.status != C.AWAITING_COLLECTION:
        # Names the card's state and the allowed next ones (IllegalTransition), e.g. a card still in stock.
        Card.TRANSITIONS.check(
            card,
            current=card.status,
            target=C.ACTIVE,
            labels=dict(Card._meta.get_field("status").flatchoices),
        )


def card_collect(
    *,
    actor: Actor,
    card: Card,
    identity_document_type: str,
    identity_document_number_seen: str,
    collected_by_guardian: bool = False,
    note: str = "",
) -> Card:
    """领卡: the holder (or the guardian on the application) shows a document, the card becomes active.

    A document that does not match is refused, and the refusal itself is audited in its own small
    transaction (which document type was shown, that it did not match; never the number), because a
    refused attempt to take someone else's card is exactly what an auditor looks for.
    """
    if identity_document_type not in DocumentType.values:
        raise DomainError(
            _("Unknown document type %(value)s."),
            {"value": identity_document_type},
            code="invalid_document_type",
            detail={"field": "identity_document_type"},
        )
    card = Card.objects.select_related("resident", "application").get(pk=card.pk)
    _check_scope(actor, card.region_id, card)
    _check_collectable(card)
    if not identity_check(
        card=card,
        document_type=identity_document_type,
        document_number_seen=identity_document_number_seen,
        by_guardian=collected_by_guardian,
    ):
        _identity_mismatch_record(
            actor=actor, card=card, document_type=identity_document_type, by_guardian=collected_by_guardian
        )
        if collected_by_guardian:
            message = _(
                "The document shown is not the guardian's recorded on the application: the card is not handed over."
            )
        else:
            message = _("The document shown does not belong to the holder: the card is not handed over.")
        raise DomainError(
            message, code="identity_mismatch", detail={"field": "identity_document_number_seen"}
        )
    return _card_collect(
        actor=actor,
        card=card,
        document_type=identity_document_type,
        by_guardian=collected_by_guardian,
        note=note,
    )


@transaction.atomic(durable=True)
def _identity_mismatch_record(
    *, actor: Actor, card: Card, document_type: str, by_guardian: bool, action: str = "card.collect.refused"
) -> None:
    audit_record(
        actor=actor,
        action=action,
        target=card,
        reason=str(_("The document shown did not match.")),
        changes={"document_type_seen": document_type, "identity_matched": False, "by_guardian": by_guardian},
    )


@transaction.atomic(durable=True)
def _card_collect(*, actor: Actor, card: Card, document_type: str, by_guardian: bool, note: str) -> Card:
    card = (
        Card.objects.select_for_update(of=("self",))
        .select_related("resident", "medical_institution", "financial_institution")
        .get(pk=card.pk)
    )
    _check_collectable(card)  # again, under the lock: a second clerk may have been quicker
    now = timezone.now()
    fields = transition(card, to=C.ACTIVE)
    card.collected_at = now
    fields.append("collected_at")
    if card.expires_on is None:
        card.expires_on = add_years(timezone.localdate(now), CARD_VALIDITY_YEARS)
        fields.append("expires_on")
    card.save(update_fields=fields)
    application = _complete_application(card)
    check = {"document_type_seen": document_type, "identity_matched": True, "by_guardian": by_guardian}
    audit_record(actor=actor, action="card.collect", target=card, reason=note, changes=check)
    record_event(
        actor=actor,
        resident=card.resident,
        card=card,
        application=application,
        kind=CardEventKind.COLLECTED,
        reason=note[:200],
        data=check,
    )
    _replacement_link(actor, card, application)
    card_whitelist(actor=actor, card=card)
    journal_card(card)
    if application is not None:
        journal_application(application)
    return card


def _replacement_link(actor: Actor, card: Card, application) -> None:
    """A card produced for a replacement application says, in its case history, which card it replaces."""
    if card.replaces_id:
        record_event(
            actor=actor,
            resident=card.resident,
            card=card,
            application=application,
            kind=CardEventKind.REPLACEMENT,
            data={"replaces_card_id": card.replaces_id},
        )


def _complete_application(card: Card) -> Application | None:
    if card.application_id is None:
        return None
    application = (
        Application.objects.select_for_update(of=("self",))
        .select_related("resident", "batch", "medical_institution", "financial_institution")
        .get(pk=card.application_id)
    )
    application.save(update_fields=transition(application, to=ApplicationStatus.COMPLETED))
    return application


# --- On-site instant issuance ------------------------------------------------------------------------------


def _check_issuing_point(actor: Actor, institution) -> None:
    if not isinstance(institution, (MedicalInstitution, FinancialInstitution)):
        raise DomainError(
            _("An issuing point is a medical institution or a bank branch."), code="invalid_issuing_point"
        )
    if institution.status != OrganisationStatus.ACTIVE:
        raise DomainError(
            _("%(institution)s is deregistered and cannot issue cards."),
            {"institution": institution.name},
            code="issuing_point_inactive",
        )
    _check_scope(actor, institution.region_id, institution.name)


@transaction.atomic(durable=True)
def card_issue_onsite_allocate(*, actor: Actor, application: Application, institution) -> Card:
    """Allocate a card for on-site issuance: the card number is the holder's document number, no chip yet."""
    application = (
        Application.objects.select_for_update(of=("self",))
        .select_related("resident", "batch", "medical_institution", "financial_institution")
        .get(pk=application.pk)
    )
    _check_scope(actor, application.region_id, application.number)
    _check_issuing_point(actor, institution)
    if application.channel not in ONSITE_CHANNELS:
        raise DomainError(
            _(
                "Application %(number)s came through “%(channel)s”: only counter, kiosk and on-site applications "
                "are issued on the spot; it goes into a production plan."
            ),
            {"number": application.number, "channel": ApplicationChannel(application.channel).label},
            code="not_onsite_channel",
        )
    if application.status != ApplicationStatus.APPROVED:
        raise DomainError(
            _(
                "Application %(number)s is “%(status)s”: only an approved application gets a card on the spot."
            ),
            {"number": application.number, "status": ApplicationStatus(application.status).label},
            code="not_approved",
        )
    resident = application.resident
    held = Card.objects.filter(resident=resident, status__in=CARD_HELD_STATUSES).first()
    if held is not None:
        raise DomainError(
            _("%(holder)s already has card %(card)s (“%(status)s”)."),
            {"holder": resident, "card": held, "status": CardStatus(held.status).label},
            code="already_holds_card",
        )
    now = timezone.now()
    card = Card.objects.create(
        card_no=resident.document_number,
        resident=resident,
        application=application,
        replaces_id=application.replaces_id,
        status=C.ISSUING,
        status_changed_at=now,
        region=institution.region,
        medical_institution=institution if isinstance(institution, MedicalInstitution) else None,
        financial_institution=institution if isinstance(institution, FinancialInstitution) else None,
        created_at=now,
    )
    audit_record(actor=actor, action="card.onsite.allocate", target=card)
    record_event(
        actor=actor,
        resident=resident,
        card=card,
        application=application,
        kind=CardEventKind.ALLOCATED,
        data={"onsite": True, "application": application.number},
    )
    journal_card(card)
    return card


def clean_chip_serial(value: str) -> str:
    serial = re.sub(r"[\s:-]+", "", value or "").upper()
    if not CHIP_SERIAL_RE.match(serial):
        raise DomainError(
            _("A chip serial is up to 20 letters and digits; %(value)s is not one."),
            {"value": value},
            code="invalid_chip_serial",
            detail={"field": "chip_serial"},
        )
    return serial


@transaction.atomic(durable=True)
def card_issue_onsite_complete(*, actor: Actor, card: Card, chip_serial: str) -> Card:
    """The chip is written: record its serial; the card is active and in the holder's hand."""
    serial = clean_chip_serial(chip_serial)
    card = (
        Card.objects.select_for_update(of=("self",))
        .select_related("resident", "medical_institution", "financial_institution")
        .get(pk=card.pk)
    )
    _check_scope(actor, card.region_id, card)
    if card.status != C.ISSUING:
        raise DomainError(
            _("Card %(card)s is not being issued on site (it is “%(status)s”)."),
            {"card": card, "status": CardStatus(card.status).label},
            code="not_onsite",
        )
    if Card.objects.filter(chip_serial=serial).exclude(pk=card.pk).exists():
        raise DomainError(
            _("Chip serial %(serial)s already belongs to another card."),
            {"serial": serial},
            code="chip_serial_in_use",
            detail={"field": "chip_serial"},
        )
    now = timezone.now()
    fields = transition(card, to=C.ACTIVE)
    card.chip_serial, card.issued_at, card.collected_at = serial, now, now
    fields += ["chip_serial", "issued_at", "collected_at"]
    if card.expires_on is None:
        card.expires_on = add_years(timezone.localdate(now), CARD_VALIDITY_YEARS)
        fields.append("expires_on")
    card.save(update_fields=fields)
    application = _complete_application(card)
    audit_record(actor=actor, action="card.onsite.complete", target=card, changes={"chip_serial": serial})
    for kind in (CardEventKind.ACTIVATED, CardEventKind.COLLECTED):
        record_event(
            actor=actor,
            resident=card.resident,
            card=card,
            application=application,
            kind=kind,
            data={"onsite": True, "chip_serial": serial},
        )
    _replacement_link(actor, card, application)
    card_whitelist(actor=actor, card=card)
    journal_card(card)
    if application is not None:
        journal_application(application)
    return card


@transaction.atomic(durable=True)
def card_issue_onsite_abort(*, actor: Actor, card: Card, reason: str) -> Card:
    """Writing the chip failed (or the holder left): the allocated card is cancelled; the application stays
    approved, so the next blank card can be allocated to it."""
    reason = require_reason(reason)
    card = (
        Card.objects.select_for_update(of=("self",))
        .select_related("resident", "application", "medical_institution", "financial_institution")
        .get(pk=card.pk)
    )
    _check_scope(actor, card.region_id, card)
    if card.status != C.ISSUING:
        raise DomainError(
            _("Card %(card)s is not being issued on site (it is “%(status)s”)."),
            {"card": card, "status": CardStatus(card.status).label},
            code="not_onsite",
        )
    card.save(update_fields=transition(card, to=C.CANCELLED))
    audit_record(actor=actor, action="card.onsite.abort", target=card, reason=reason)
    # The card never reached the holder: in the case history this is a failed personalisation.
    record_event(
        actor=actor,
        resident=card.resident,
        card=card,
        application=card.application,
        kind=CardEventKind.PRODUCTION_FAILED,
        reason=reason[:200],
        data={"onsite": True, "aborted": True},
    )
    journal_card(card)
    return card
