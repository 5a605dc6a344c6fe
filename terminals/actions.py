"""Every write of the terminals app: the terminal register, the agent's check-in, and the counter's on-site
issuance steps (which call Cards I's actions: the chip is written between allocate and complete).
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cards.actions.issuance import (
    card_issue_onsite_abort,
    card_issue_onsite_allocate,
    card_issue_onsite_complete,
)
from cards.models import Application, Card
from institutions.models import FinancialInstitution, MedicalInstitution
from registry.actors import Actor
from registry.audit import audit_record
from registry.choices import ListName
from registry.errors import DomainError
from registry.journal import journal_append
from registry.lifecycle import status_change_with_reason
from registry.lists import list_entry_current, sam_subject
from registry.scope import user_can_see_region
from terminals.choices import TerminalKind, TerminalStatus
from terminals.models import Terminal
from terminals.selectors import card_personalisation, readback_mismatches

JOURNAL_KIND = "terminals.terminal"


def _journal(terminal: Terminal) -> None:
    journal_append(kind=JOURNAL_KIND, key=terminal.serial, payload=terminal.journal_payload())


def _check_scope(actor: Actor, region_code: str, subject) -> None:
    if actor.user is not None and not user_can_see_region(actor.user, region_code):
        raise DomainError(_("%(object)s is outside your region."), {"object": subject}, code="out_of_scope")


def sam_blacklist_entry(sam_serial: str):
    """The current blacklist entry of this SAM (frozen or cancelled) on registry's one list, or None."""
    return list_entry_current(list_name=ListName.BLACKLIST, subject=sam_subject(sam_serial))


@transaction.atomic(durable=True)
def terminal_register(
    *, actor: Actor, kind: str, serial: str, institution, sam_serial: str = "", terminal_number: str = ""
) -> Terminal:
    """Register a reader/writer at a medical or financial institution, optionally bound to a SAM."""
    serial = (serial or "").strip().upper()
    if not serial:
        raise DomainError(
            _("The serial number is required."), code="serial_required", detail={"field": "serial"}
        )
    if kind not in TerminalKind.values:
        raise DomainError(_("Unknown terminal type %(kind)s."), {"kind": kind}, code="invalid_kind")
    if not isinstance(institution, MedicalInstitution | FinancialInstitution):
        raise DomainError(
            _("A terminal belongs to a medical or financial institution."), code="invalid_institution"
        )
    _check_scope(actor, institution.region_id, institution)
    if Terminal.objects.filter(serial=serial).exists():
        raise DomainError(
            _("Terminal %(serial)s is already registered."), {"serial": serial}, code="duplicate_serial"
        )
    now = timezone.now()
    terminal = Terminal.objects.create(
        kind=kind,
        serial=serial,
        region_id=institution.region_id,
        medical_institution=institution if isinstance(institution, MedicalInstitution) else None,
        financial_institution=institution if isinstance(institution, FinancialInstitution) else None,
        sam_serial=(sam_serial or "").strip(),
        terminal_number=(terminal_number or "").strip(),
        registered_at=now,
        changed_at=now,
    )
    audit_record(actor=actor, action="terminal.register", target=terminal)
    _journal(terminal)
    return terminal


def _change_status(*, actor: Actor, terminal: Terminal, to: str, reason: str, verb: str) -> Terminal:
    return status_change_with_reason(
        terminal, actor=actor, to=to, reason=reason, action=f"terminal.{verb}", journal=_journal
    )


@transaction.atomic(durable=True)
def terminal_suspend(*, actor: Actor, terminal: Terminal, reason: str) -> Terminal:
    return _change_status(
        actor=actor, terminal=terminal, to=TerminalStatus.SUSPENDED, reason=reason, verb="suspend"
    )


@transaction.atomic(durable=True)
def terminal_reinstate(*, actor: Actor, terminal: Terminal, reason: str) -> Terminal:
    return _change_status(
        actor=actor, terminal=terminal, to=TerminalStatus.ACTIVE, reason=reason, verb="reinstate"
    )


@transaction.atomic(durable=True)
def terminal_retire(*, actor: Actor, terminal: Terminal, reason: str) -> Terminal:
    return _change_status(
        actor=actor, terminal=terminal, to=TerminalStatus.RETIRED, reason=reason, verb="retire"
    )


@transaction.atomic(durable=True)
def terminal_check_in(*, actor: Actor, sam_serial: str, terminal_number: str) -> Terminal:
    """The agent reported the SAM in its slot: find the terminal it is bound to, refuse a blacklisted SAM,
    a suspended or retired terminal, or a SAM no terminal is bound to; stamp last seen."""
    sam_serial = (sam_serial or "").strip()
    entry = sam_blacklist_entry(sam_serial)
    if entry is not None:
        raise DomainError(
            _("SAM %(serial)s is on the blacklist (%(reason)s): this terminal may not read or write cards."),
            {"serial": sam_serial, "reason": entry.get_reason_display()},
            code="sam_blacklisted",
        )
    terminal = (
        Terminal.objects.select_for_update().filter(sam_serial=sam_serial).first() if sam_serial else None
    )
    if terminal is None:
        raise DomainError(
            _("SAM %(serial)s is not bound to a registered terminal; ask the SAM manager to bind it."),
            {"serial": sam_serial or "-"},
            code="sam_not_bound",
        )
    _check_scope(actor, terminal.region_id, terminal)
    if terminal.status != TerminalStatus.ACTIVE:
        raise DomainError(
            _("Terminal %(serial)s is “%(status)s”."),
            {"serial": terminal.serial, "status": TerminalStatus(terminal.status).label},
            code="terminal_inactive",
        )
    fields = ["last_seen_at"]
    terminal.last_seen_at = timezone.now()
    if terminal_number and terminal_number != terminal.terminal_number:
        audit_record(
            actor=actor,
            action="terminal.number",
            target=terminal,
            changes={"terminal_number": [terminal.terminal_number, terminal_number]},
        )
        terminal.terminal_number = terminal_number
        fields += ["terminal_number", "changed_at"]
        terminal.changed_at = terminal.last_seen_at
    terminal.save(update_fields=fields)
    if "terminal_number" in fields:
        _journal(terminal)
    return terminal


# --- on-site issuance at the counter (the chip is written by the agent between these steps) -------------


def issuance_start(*, actor: Actor, application: Application, terminal: Terminal) -> tuple[Card, dict]:
    """Allocate a card for an approved on-site application; return it and what the chip must hold."""
    if terminal.status != TerminalStatus.ACTIVE:
        raise DomainError(
            _("Terminal %(serial)s is not active."), {"serial": terminal.serial}, code="terminal_inactive"
        )
    card = card_issue_onsite_allocate(actor=actor, application=application, institution=terminal.institution)
    return card, card_personalisation(card=card)


def issuance_finish(*, actor: Actor, card: Card, chip_serial: str, readback: dict) -> Card:
    """The agent wrote the chip and read it back: activate the card only if the read-back matches."""
    card = Card.objects.select_related("resident", "region").get(pk=card.pk)
    problems = readback_mismatches(expected=card_personalisation(card=card), readback=readback)
    if problems:
        raise DomainError(
            _(
                "The chip read back differently (%(items)s): the card is not activated; write it again or abort."
            ),
            {"items": ", ".join(problems)},
            code="readback_mismatch",
        )
    return card_issue_onsite_complete(actor=actor, card=card, chip_serial=chip_serial)


def issuance_abort(*, actor: Actor, card: Card, reason: str) -> Card:
    return card_issue_onsite_abort(actor=actor, card=card, reason=reason)
