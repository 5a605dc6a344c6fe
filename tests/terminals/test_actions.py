"""Registered terminals, the agent's check-in (blacklisted SAM refused) and on-site issuance at the counter:
the card becomes active only after the chip read back what the server sent."""

import pytest
from django.db import transaction

from cards.choices import CardStatus
from registry.choices import EntryType, ListName, ListReason
from registry.errors import DomainError
from registry.lists import card_subject, list_add, sam_subject
from registry.models import AuditEntry, JournalEntry
from terminals import actions
from terminals.agent import Devices, issue_card
from terminals.choices import TerminalKind, TerminalStatus
from terminals.selectors import card_state
from tests.cards.conftest import approved_application, make_holder  # noqa: F401
from tests.institutions.conftest import make_institution  # noqa: F401


@pytest.fixture
def counter(make_institution, system_actor):  # noqa: F811
    hospital = make_institution("610113", name="雁塔区人民医院")
    return actions.terminal_register(
        actor=system_actor,
        kind=TerminalKind.COUNTER,
        serial="t-0001",
        institution=hospital,
        sam_serial="SAM0000001",
    )


@pytest.mark.django_db
def test_register_and_status(counter, system_actor):
    assert counter.serial == "T-0001" and counter.region_id == "610113"
    assert JournalEntry.objects.filter(kind="terminals.terminal", key="T-0001").exists()
    with pytest.raises(DomainError) as caught:
        actions.terminal_register(
            actor=system_actor, kind="counter", serial="T-0001", institution=counter.medical_institution
        )
    assert caught.value.code == "duplicate_serial"
    with pytest.raises(DomainError):
        actions.terminal_suspend(actor=system_actor, terminal=counter, reason=" ")
    counter = actions.terminal_suspend(actor=system_actor, terminal=counter, reason="读卡器故障")
    assert counter.status == TerminalStatus.SUSPENDED
    with pytest.raises(DomainError) as caught:
        actions.terminal_check_in(actor=system_actor, sam_serial="SAM0000001", terminal_number="610101000001")
    assert caught.value.code == "terminal_inactive"


@pytest.mark.django_db
def test_check_in_stamps_and_records_terminal_number(counter, system_actor):
    terminal = actions.terminal_check_in(
        actor=system_actor, sam_serial="SAM0000001", terminal_number="610101000001"
    )
    assert terminal.pk == counter.pk and terminal.last_seen_at is not None
    assert terminal.terminal_number == "610101000001"
    assert AuditEntry.objects.filter(action="terminal.number").count() == 1
    actions.terminal_check_in(actor=system_actor, sam_serial="SAM0000001", terminal_number="610101000001")
    assert AuditEntry.objects.filter(action="terminal.number").count() == 1
    with pytest.raises(DomainError) as caught:
        actions.terminal_check_in(actor=system_actor, sam_serial="SAM9999999", terminal_number="")
    assert caught.value.code == "sam_not_bound"


@pytest.mark.django_db
def test_blacklisted_sam_is_refused(counter, system_actor):
    with transaction.atomic():
        list_add(
            list_name=ListName.BLACKLIST,
            entry_type=EntryType.SAM,
            subject=sam_subject("SAM0000001"),
            reason=ListReason.SAM_FROZEN,
            region_code="610113",
            actor=system_actor,
            label="SAM0000001",
        )
    with pytest.raises(DomainError) as caught:
        actions.terminal_check_in(actor=system_actor, sam_serial="SAM0000001", terminal_number="")
    assert caught.value.code == "sam_blacklisted" and "SAM0000001" in caught.value.message_zh
    counter.refresh_from_db()
    assert counter.last_seen_at is None


@pytest.mark.django_db
def test_onsite_issuance_activates_after_readback(counter, approved_application, system_actor):  # noqa: F811
    application = approved_application(name="李小红", male=False)
    card, payload = actions.issuance_start(actor=system_actor, application=application, terminal=counter)
    assert card.status == CardStatus.ISSUING
    assert payload["holder"]["name"] == "李小红" and payload["issuer"]["card_no"] == card.card_no
    result = issue_card(Devices(emulator=True), payload)
    card = actions.issuance_finish(
        actor=system_actor, card=card, chip_serial=result["chip_serial"], readback=result["readback"]
    )
    assert card.status == CardStatus.ACTIVE and card.chip_serial == result["chip_serial"]
    state = card_state(card_no=card.card_no)
    assert state["status"] == "active" and state["writable"] and "*" in state["card_no"]
    assert "李小红" not in state["holder"]


@pytest.mark.django_db
def test_wrong_readback_does_not_activate(counter, approved_application, system_actor):  # noqa: F811
    card, payload = actions.issuance_start(
        actor=system_actor, application=approved_application(), terminal=counter
    )
    result = issue_card(Devices(emulator=True), payload)
    result["readback"]["DDF1/EF06"]["name"] = "别人"
    with pytest.raises(DomainError) as caught:
        actions.issuance_finish(
            actor=system_actor, card=card, chip_serial=result["chip_serial"], readback=result["readback"]
        )
    assert caught.value.code == "readback_mismatch" and "name" in caught.value.message_en
    card.refresh_from_db()
    assert card.status == CardStatus.ISSUING
    card = actions.issuance_abort(actor=system_actor, card=card, reason="回读不一致")
    assert card.status == CardStatus.CANCELLED


@pytest.mark.django_db
def test_blacklisted_card_is_flagged(counter, approved_application, system_actor):  # noqa: F811
    card, payload = actions.issuance_start(
        actor=system_actor, application=approved_application(), terminal=counter
    )
    result = issue_card(Devices(emulator=True), payload)
    card = actions.issuance_finish(
        actor=system_actor, card=card, chip_serial=result["chip_serial"], readback=result["readback"]
    )
    with transaction.atomic():
        list_add(
            list_name=ListName.BLACKLIST,
            entry_type=EntryType.CARD,
            subject=card_subject(card.card_no, card.chip_serial),
            reason=ListReason.MANUAL,
            region_code=card.region_id,
            actor=system_actor,
            note="test",
        )
    state = card_state(card_no=card.card_no)
    assert state["flags"] == ["blacklisted"] and not state["writable"]
